# Time surveillance::earsC (R package surveillance 1.20.3) on the benchmark series of bench/bench_ears.py.
#
# Usage (from the repository root):
#   Rscript --vanilla tools/r/bench_ears.R <counts.txt> <n_periods> <start_date> <method> <first_index> <out.txt>
# <counts.txt>: whitespace-separated integer counts, one line per period, one column per series.
# Runs earsC(sts, control = list(method = <method>, range = <first_index>:<n_periods>)) on all series in the file
# (bench_ears.py passes a subset when the full panel would take too long), prints one line
#   seconds=<elapsed of the earsC call> series=<n> periods=<evaluated periods>
# to stdout and writes the upper bounds (periods x series, %.17g) to <out.txt> for the parity check.

suppressPackageStartupMessages(library(surveillance))
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 6)
counts_file <- args[1]
n_periods <- as.integer(args[2])
start <- as.Date(args[3])
method <- args[4]
first <- as.integer(args[5])
out_file <- args[6]

v <- scan(counts_file, quiet = TRUE)
obs <- matrix(v, nrow = n_periods, byrow = TRUE)
x <- sts(observed = obs, epoch = as.numeric(start + 7 * (seq_len(n_periods) - 1)), epochAsDate = TRUE,
         frequency = 52)
rng <- first:n_periods
elapsed <- system.time(res <- earsC(x, control = list(method = method, range = rng)))[["elapsed"]]
cat(sprintf("seconds=%.6f series=%d periods=%d\n", elapsed, ncol(obs), length(rng)))
ub <- upperbound(res)
write(sprintf("%.17g", t(ub)), out_file, ncolumns = ncol(ub))
