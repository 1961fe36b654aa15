// Threads1000: 1,000 Java threads sleep, synchronize and finish (the JVM waits
// on raw futexes at safepoints and keeps its current thread in TLS)
public class Threads1000 {
  public static void main(String[] a) throws Exception {
    int n = 1000; Thread[] ts = new Thread[n]; final long[] sums = new long[n];
    Object lock = new Object(); final int[] counter = {0};
    for (int i = 0; i < n; i++) { final int id = i; ts[i] = new Thread(() -> {
      try { Thread.sleep(20); } catch (InterruptedException e) {}
      synchronized (lock) { counter[0]++; } sums[id] = id; });
      ts[i].start(); }
    for (Thread t : ts) t.join();
    long s = 0; for (long x : sums) s += x;
    System.out.println("threads " + n + " counter " + counter[0] + " sum " + s);
  }
}
