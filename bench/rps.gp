# requests/s against connections, from results.dat (written by run.py)
set terminal pngcairo size 900,560 noenhanced
set output 'rps.png'
set title 'thread-per-connection keep-alive server: requests/s (median)'
set xlabel 'concurrent connections'
set ylabel 'requests/s'
set logscale x
set key left bottom
set grid
set yrange [0:*]
plot 'results.dat' using 1:2 with linespoints lw 2 title 'stock (OS threads)', \
     '' using 1:3 with linespoints lw 2 title 'gpatch (green threads)', \
     '' using 1:4 with linespoints lw 2 title 'native libuv'
