// tls_cxx — C++ per-thread state under blocking calls: thread_local objects
// are constructed once per thread and destroyed at its exit; the exception
// being handled in a catch block is the thread's own while it blocks there.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::atomic<int> constructed{0}, destroyed{0}, wrong{0};

struct Session {
    int owner = -1;
    std::string label;
    Session() { constructed++; }
    ~Session() { destroyed++; }
};
static thread_local Session session;

static void work(int id)
{
    session.owner = id;
    session.label = "session-" + std::to_string(id);
    for (int round = 0; round < 3; round++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + id % 3));
        if (session.owner != id || session.label != "session-" + std::to_string(id)) wrong++;
        try {
            throw std::runtime_error("error-" + std::to_string(id));
        } catch (const std::runtime_error &e) {
            // block while handling it: other threads throw and catch meanwhile
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            try {
                throw; // rethrow the exception being handled: must be ours
            } catch (const std::runtime_error &again) {
                if (std::string(again.what()) != "error-" + std::to_string(id)) wrong++;
            }
            if (std::string(e.what()) != "error-" + std::to_string(id)) wrong++;
        }
    }
}

int main()
{
    const int n = 40;
    std::vector<std::thread> ts;
    for (int i = 0; i < n; i++) ts.emplace_back(work, i);
    for (auto &t : ts) t.join();
    std::printf("threads %d\n", n);
    std::printf("thread_local constructed %d, destroyed %d\n", constructed.load(), destroyed.load());
    std::printf("wrong session or exception: %d\n", wrong.load());
    return 0;
}
