# requests/s against connections, from results.dat and peers.dat (written by run.py)
set terminal pngcairo size 1400,640 noenhanced
set output 'rps.png'
set datafile missing '-'
set xlabel 'concurrent connections'
set ylabel 'requests/s'
set logscale x
set xrange [30:16000]
set key below
set grid
set yrange [0:*]
set multiplot layout 1,2
set title 'keep-alive server in C, and in Go: requests/s (median)'
plot 'results.dat' using 1:2 with linespoints lw 2 title 'stock (OS threads)', \
     '' using 1:3 with linespoints lw 2 title 'gpatch (green threads)', \
     '' using 1:4 with linespoints lw 2 title 'native libuv', \
     'peers.dat' using 1:5 with linespoints lw 2 title 'Go, GOMAXPROCS=1 (goroutines)'
set title 'the same server in plain Python (socket + threading)'
plot 'peers.dat' using 1:2 with linespoints lw 2 title 'python3 stock (OS threads)', \
     '' using 1:3 with linespoints lw 2 title 'python3 + gevent monkey.patch_all()', \
     '' using 1:4 with linespoints lw 2 title 'python3 under gpatch'
unset multiplot
