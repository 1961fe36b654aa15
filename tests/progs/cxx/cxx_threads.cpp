// cxx_threads — a C++ program on std::thread: 200 threads sleep 50 ms each
// and count; main reports the count and its OS thread count while they all
// exist (they wait for main to have counted before they end). Built stock
// with g++ -pthread.
#include <atomic>
#include <chrono>
#include <condition_variable>
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
    std::condition_variable counted_cv;
    bool counted = false;
    for (int i = 0; i < 200; i++)
        ts.emplace_back([&, i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            count++;
            std::unique_lock<std::mutex> g(m);
            sum += i;
            counted_cv.wait(g, [&] { return counted; }); // alive until main has counted
        });
    int during = os_threads();
    {
        std::lock_guard<std::mutex> g(m);
        counted = true;
    }
    counted_cv.notify_all();
    for (auto &t : ts) t.join();
    std::printf("count=%d sum=%ld\n", count.load(), sum);
    std::printf("os_threads_during=%d\n", during);
    return 0;
}
