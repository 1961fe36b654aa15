// cxx_threads — a C++ program on std::thread: 200 threads sleep 50 ms each
// and count; main reports the count and its OS thread count while they all
// exist. Built stock with g++ -pthread.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

static int os_threads()
{
    FILE *f = std::fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) std::fclose(f);
    return n;
}

int main()
{
    std::atomic<int> count{0};
    std::mutex m;
    long sum = 0;
    std::vector<std::thread> ts;
    for (int i = 0; i < 200; i++)
        ts.emplace_back([&, i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            count++;
            std::lock_guard<std::mutex> g(m);
            sum += i;
        });
    int during = os_threads();
    for (auto &t : ts) t.join();
    std::printf("count=%d sum=%ld\n", count.load(), sum);
    std::printf("os_threads_during=%d\n", during);
    return 0;
}
