//! Element types. Their numbers are stored in every array header and are never renumbered.

/// The type of an array's elements. The discriminant is the on-disk code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Dtype {
    I8 = 1,
    U8 = 2,
    I16 = 3,
    U16 = 4,
    I32 = 5,
    U32 = 6,
    I64 = 7,
    U64 = 8,
    F32 = 9,
    F64 = 10,
    /// One byte, 0 for false and 1 for true (numpy's `bool`).
    Bool = 11,
    /// IEEE 754 binary16 (numpy's `float16`).
    F16 = 12,
    /// Two binary32, real then imaginary (numpy's `complex64`).
    C64 = 13,
    /// Two binary64, real then imaginary (numpy's `complex128`).
    C128 = 14,
}

impl Dtype {
    /// Every dtype, in code order.
    pub const ALL: [Dtype; 14] = [
        Dtype::I8,
        Dtype::U8,
        Dtype::I16,
        Dtype::U16,
        Dtype::I32,
        Dtype::U32,
        Dtype::I64,
        Dtype::U64,
        Dtype::F32,
        Dtype::F64,
        Dtype::Bool,
        Dtype::F16,
        Dtype::C64,
        Dtype::C128,
    ];

    /// The dtype stored as `code`, or `None` for a code no version of mba assigned.
    pub fn from_code(code: u32) -> Option<Dtype> {
        Dtype::ALL.get((code as usize).wrapping_sub(1)).copied()
    }

    /// The on-disk code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
            Dtype::I16 | Dtype::U16 | Dtype::F16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::U64 | Dtype::F64 | Dtype::C64 => 8,
            Dtype::C128 => 16,
        }
    }

    /// The lower-case name (`"u32"`), as used in messages and tools.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::I8 => "i8",
            Dtype::U8 => "u8",
            Dtype::I16 => "i16",
            Dtype::U16 => "u16",
            Dtype::I32 => "i32",
            Dtype::U32 => "u32",
            Dtype::I64 => "i64",
            Dtype::U64 => "u64",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
            Dtype::Bool => "bool",
            Dtype::F16 => "f16",
            Dtype::C64 => "c64",
            Dtype::C128 => "c128",
        }
    }

    /// numpy's name of the type (`"float32"`), as the command-line tool and `.npy` files use.
    pub fn numpy_name(self) -> &'static str {
        match self {
            Dtype::I8 => "int8",
            Dtype::U8 => "uint8",
            Dtype::I16 => "int16",
            Dtype::U16 => "uint16",
            Dtype::I32 => "int32",
            Dtype::U32 => "uint32",
            Dtype::I64 => "int64",
            Dtype::U64 => "uint64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::Bool => "bool",
            Dtype::F16 => "float16",
            Dtype::C64 => "complex64",
            Dtype::C128 => "complex128",
        }
    }

    /// The dtype of a name, short (`"u32"`) or numpy's (`"uint32"`).
    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name || d.numpy_name() == name)
    }
}

/// An element of a `bool` array: the raw byte, since a peer may store any value in it
/// (`0` is false; numpy writes 1 for true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[repr(transparent)]
pub struct Bool(pub u8);

impl Bool {
    /// Whether the byte is non-zero.
    pub fn get(self) -> bool {
        self.0 != 0
    }
}

impl From<bool> for Bool {
    fn from(b: bool) -> Self {
        Bool(b as u8)
    }
}

/// An element of a `float16` array: the IEEE 754 binary16 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[repr(transparent)]
pub struct F16(pub u16);

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that can be an element of an mba array.
///
/// Sealed: implemented for the ten primitive types that have a [`Dtype`], for [`Bool`],
/// [`F16`], `[f32; 2]` (complex64) and `[f64; 2]` (complex128): types whose every bit pattern
/// is a valid value, so any bytes a peer writes read back as some value.
pub trait Element: Copy + sealed::Sealed + Send + Sync + 'static {
    /// The dtype of this type.
    const DTYPE: Dtype;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t { const DTYPE: Dtype = Dtype::$d; }
    )*};
}
element!(i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32,
         i64 => I64, u64 => U64, f32 => F32, f64 => F64, Bool => Bool, F16 => F16,
         [f32; 2] => C64, [f64; 2] => C128);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for (i, d) in Dtype::ALL.iter().enumerate() {
            assert_eq!(d.code(), i as u32 + 1);
            assert_eq!(Dtype::from_code(d.code()), Some(*d));
        }
        for bad in [0, 15, 0xFFFF_FFFF] {
            assert_eq!(Dtype::from_code(bad), None);
        }
    }

    #[test]
    fn itemsize_matches_the_rust_type() {
        fn check<T: Element>() {
            assert_eq!(T::DTYPE.itemsize(), std::mem::size_of::<T>(), "{}", T::DTYPE.name());
        }
        check::<i8>();
        check::<u8>();
        check::<i16>();
        check::<u16>();
        check::<i32>();
        check::<u32>();
        check::<i64>();
        check::<u64>();
        check::<f32>();
        check::<f64>();
        check::<Bool>();
        check::<F16>();
        check::<[f32; 2]>();
        check::<[f64; 2]>();
        for d in Dtype::ALL {
            assert_eq!(Dtype::from_name(d.name()), Some(d));
            assert_eq!(Dtype::from_name(d.numpy_name()), Some(d));
        }
    }
}
