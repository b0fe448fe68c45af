// An out-of-tree C++ consumer: find_package(mba), mba.hpp, linked shared or static.
#include <cstdio>
#include <mba.hpp>

int main() {
    auto a = mba::array<double>::create("");
    for (int i = 0; i < 1000; i++) a.push_back(i * 0.5);
    double sum = 0;
    for (double v : a.view()) sum += v;
    std::printf("cmake consumer: len=%zu sum=%.1f version=%s\n", a.size(), sum, mba_version());
    return sum == 249750.0 ? 0 : 1;
}
