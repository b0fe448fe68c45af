//! The growth policy: how large a store becomes when an append needs more room.

/// Each growth adds `1 / GROWTH_DIVISOR` of the data size (at least a page): geometric, so
/// appends cost amortised O(1), while at most a quarter of the store is allocated ahead of use.
/// (Doubling allocated 1.6x the pages a plain loop touches for 10M u32; see docs/BENCHMARKS.md.)
pub const GROWTH_DIVISOR: u64 = 4;
/// The largest single growth step: 1 GiB.
pub const MAX_GROWTH_STEP: u64 = 1 << 30;

/// The store size, in bytes, to grow to from `known` bytes when `need_end` bytes are needed:
/// at least `need_end`, one geometric step past `known` if that is more, whole pages, and never
/// past `limit` (the end of the array's maximum capacity). `None` if `need_end` exceeds `limit`.
pub fn next_size(known: u64, need_end: u64, data_offset: u64, page: u64, limit: u64) -> Option<u64> {
    if need_end > limit {
        return None;
    }
    if need_end <= known {
        return Some(known);
    }
    let data = known.saturating_sub(data_offset);
    let grown = known.saturating_add((data / GROWTH_DIVISOR).clamp(page, MAX_GROWTH_STEP));
    let target = need_end.max(grown).checked_next_multiple_of(page).unwrap_or(u64::MAX);
    Some(target.min(limit).max(need_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_a_quarter_in_whole_pages_within_the_limit() {
        let p = 4096;
        assert_eq!(next_size(8192, 8200, 4096, p, 1 << 30), Some(12288), "at least a page");
        assert_eq!(
            next_size(4096 + (4 << 20), 4096 + (4 << 20) + 1, 4096, p, 1 << 40),
            Some(4096 + (5 << 20))
        );
        assert_eq!(next_size(8192, 100_000, 4096, p, 1 << 30), Some(102_400), "what is needed, page-rounded");
        assert_eq!(next_size(8192, 8192, 4096, p, 1 << 30), Some(8192), "nothing to do");
        assert_eq!(next_size(8192, 10_000, 4096, p, 9000), None, "past the limit");
        assert_eq!(next_size(8192, 8500, 4096, p, 9000), Some(9000), "clipped to the limit");
        let huge = 1u64 << 44;
        assert_eq!(
            next_size(huge, huge + 1, 4096, p, 1 << 46),
            Some(huge + (1 << 30)),
            "steps stop at 1 GiB"
        );
    }
}
