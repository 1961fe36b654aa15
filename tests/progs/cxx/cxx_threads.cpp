// cxx_threads — a C++ program on std::thread: 200 threads sleep 50 ms each
// and count; main reports the count and its OS thread count while they all
// exist (they wait for main to have counted before they end). Built stock
// with g++ -pthread.
#include <dirent.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

// OS threads of the program: every task but gpatch's own helpers, which it
// names "gpatch-..." (the hand-off monitor, a spare OS thread it keeps ready
// for a hand-off; stock has none). No thread here blocks where gpatch cannot
// see, so no spare ever takes a worker (--stats would count a hand-off).
static int os_threads()
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    while (struct dirent *e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = "";
        std::snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (FILE *f = std::fopen(path, "r")) {
            if (!std::fgets(comm, sizeof comm, f)) comm[0] = 0;
            std::fclose(f);
        }
        if (std::strncmp(comm, "gpatch-", 7) != 0) n++;
    }
    closedir(d);
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
