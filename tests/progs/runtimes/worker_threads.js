// worker_threads: four workers compute and post back; main sums (a runtime that
// keeps its current isolate in TLS: it needs each green thread's own)
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
if (isMainThread) {
  let done = 0, sum = 0;
  for (let i = 0; i < 4; i++) {
    const w = new Worker(__filename, { workerData: i });
    w.on('message', (m) => { sum += m; if (++done === 4) console.log('sum', sum); });
  }
} else {
  let s = 0; for (let i = 0; i < 1e6; i++) s += i % 7;
  setTimeout(() => parentPort.postMessage(s + workerData), 10);
}
