# Benchmark partner of bench/bench_farrington.py: R's surveillance::farringtonFlexible with the Noufaily et al.
# (2013) settings on every district of the influenza data, evaluating the last `n_eval` weeks.
#
# Usage: Rscript --vanilla tools/r/bench_farrington.R INPUT.csv OUTPUT.csv [n_eval]
# Writes series,period_start,observed,expected,upperbound,alarm,score,pvalue (NA as empty).
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop("usage: bench_farrington.R INPUT.csv OUTPUT.csv [n_eval]")
n_eval <- if (length(args) >= 3) as.integer(args[3]) else 52L
suppressPackageStartupMessages(library(surveillance))

d <- read.csv(args[1], colClasses = c(series = "character", period_start = "character"))
series <- unique(d$series)
dates <- sort(unique(d$period_start))
obs <- matrix(NA_real_, length(dates), length(series), dimnames = list(NULL, series))
obs[cbind(match(d$period_start, dates), match(d$series, series))] <- d$count
pop <- NULL
if ("population" %in% names(d)) {
  pop <- matrix(NA_real_, length(dates), length(series))
  pop[cbind(match(d$period_start, dates), match(d$series, series))] <- d$population
}
x <- sts(observed = obs, epoch = as.numeric(as.Date(dates)), epochAsDate = TRUE, frequency = 52,
         population = pop)
n <- nrow(obs)
control <- list(range = (n - n_eval + 1):n, b = 5, w = 3, reweight = TRUE, weightsThreshold = 2.58,
                alpha = 0.05, trend = TRUE, pThresholdTrend = 1, limit54 = c(5, 4), powertrans = "2/3",
                populationOffset = FALSE, noPeriods = 10, pastWeeksNotIncluded = 26,
                thresholdMethod = "nbPlugin", glmWarnings = FALSE)
res <- farringtonFlexible(x, control = control)

fmt <- function(v) ifelse(is.na(v), "", sprintf("%.17g", v))
m <- length(control$range)
out <- data.frame(
  series = rep(series, each = m),
  period_start = rep(dates[control$range], times = length(series)),
  observed = fmt(as.vector(observed(res))),
  expected = fmt(as.vector(res@control$expected)),
  upperbound = fmt(as.vector(upperbound(res))),
  alarm = ifelse(is.na(as.vector(alarms(res))), "", as.integer(as.vector(alarms(res)))),
  score = fmt(as.vector(res@control$score)),
  pvalue = fmt(as.vector(res@control$pvalue))
)
write.csv(out, args[2], row.names = FALSE, quote = FALSE)
