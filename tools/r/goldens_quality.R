# Goldens for dhnet.surveillance.evaluation: R's algo.quality (surveillance 1.20.3) on real series.
#
# Run from the repository root:  Rscript --vanilla tools/r/goldens_quality.R
# Writes tests/surveillance/goldens/quality/<case>.csv (series, period_start, state, alarm over the evaluated range)
# and tests/surveillance/goldens/quality/cases.json (one entry per case: the R call and R's TP, FP, TN, FN,
# sens, spec, dist, mlag at full precision).
#
# Cases: hepatitis A in Berlin districts (data/surveillance/hepatitis_a_berlin_districts_weekly.csv), with the
# outbreak labels of the source (one episode at the end of each series), alarms from earsC and farringtonFlexible.
# To exercise the delay (mlag) logic over several episodes, two cases also use a *derived* state on the same real
# counts: state = 1 where the count is at least max(1, the series' 80% quantile) (several episodes of different lengths).
suppressPackageStartupMessages(library(surveillance))

out_dir <- file.path("tests", "surveillance", "goldens", "quality")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
input <- "hepatitis_a_berlin_districts_weekly.csv"
d <- read.csv(file.path("data", "surveillance", input), colClasses = c(series = "character", period_start = "character"))

num <- function(x) ifelse(is.na(x), "", sprintf("%.17g", x))

make_sts <- function(rows, state) {
  sts(observed = rows$count, state = state, epoch = as.numeric(as.Date(rows$period_start)),
      epochAsDate = TRUE, frequency = 52)
}

cases <- list()
run_case <- function(case, series, state_kind, detector, range_from, penalty = 20) {
  rows <- d[d$series == series, ]
  rows <- rows[order(rows$period_start), ]
  state <- if (state_kind == "source") rows$outbreak else as.integer(rows$count >= max(1, quantile(rows$count, 0.8)))
  s <- make_sts(rows, state)
  range <- which(rows$period_start >= range_from)
  if (detector == "earsC-C1") {
    res <- earsC(s, control = list(range = range, method = "C1", alpha = 0.001))
    call <- sprintf("earsC(sts, control = list(range = range, method = 'C1', alpha = 0.001))")
  } else if (detector == "earsC-C3") {
    res <- earsC(s, control = list(range = range, method = "C3", alpha = 0.01))
    call <- sprintf("earsC(sts, control = list(range = range, method = 'C3', alpha = 0.01))")
  } else {
    res <- farringtonFlexible(s, control = list(range = range, b = 3, w = 3, alpha = 0.05))
    call <- sprintf("farringtonFlexible(sts, control = list(range = range, b = 3, w = 3, alpha = 0.05))")
  }
  # dhnet never leaves an alarm missing (a value it cannot compute gives alarm FALSE); R's earsC gives NA alarms
  # where the baseline has zero variance.  Use dhnet's convention before scoring so both sides score the same alarms.
  res@alarm[is.na(res@alarm)] <- FALSE
  q <- algo.quality(res, penalty = penalty)
  al <- as.integer(alarms(res)[, 1])
  st <- as.integer(res@state[, 1])
  out <- data.frame(series = series, period_start = rows$period_start[range], state = st, alarm = al)
  write.csv(out, file.path(out_dir, paste0(case, ".csv")), row.names = FALSE, quote = TRUE)
  r <- sapply(c("TP", "FP", "TN", "FN", "sens", "spec", "dist", "mlag"), function(k) as.numeric(q[[k]]))
  cases[[length(cases) + 1]] <<- list(
    case = case, input = input, series = series, state = state_kind, from = range_from, penalty = penalty,
    r_call = paste0(call, "; algo.quality(res, penalty = ", penalty, ")"), r = as.list(r)
  )
}

run_case("mitt_source_earsC1", "mitt", "source", "earsC-C1", "2002-01-07")
run_case("pank_source_farrington", "pank", "source", "farringtonFlexible", "2005-01-03")
run_case("neuk_q80_earsC1", "neuk", "q80", "earsC-C1", "2002-01-07")
run_case("frkr_q80_earsC3_penalty5", "frkr", "q80", "earsC-C3", "2002-01-07", penalty = 5)

# JSON by hand (no jsonlite dependency): numbers at full precision, NaN as null.
jnum <- function(x) if (is.na(x)) "null" else sprintf("%.17g", x)
jstr <- function(x) paste0("\"", gsub("\"", "\\\\\"", x), "\"")
entries <- vapply(cases, function(c) {
  r <- paste(vapply(names(c$r), function(k) paste0(jstr(k), ": ", jnum(c$r[[k]])), ""), collapse = ", ")
  paste0("  {", paste(
    paste0(jstr("case"), ": ", jstr(c$case)),
    paste0(jstr("input"), ": ", jstr(c$input)),
    paste0(jstr("series"), ": ", jstr(c$series)),
    paste0(jstr("state"), ": ", jstr(c$state)),
    paste0(jstr("from"), ": ", jstr(c$from)),
    paste0(jstr("penalty"), ": ", c$penalty),
    paste0(jstr("r_call"), ": ", jstr(c$r_call)),
    paste0(jstr("r"), ": {", r, "}"),
    sep = ", "), "}")
}, "")
writeLines(c("[", paste(entries, collapse = ",\n"), "]"), file.path(out_dir, "cases.json"))
cat("goldens_quality: wrote", length(cases), "cases to", out_dir, "\n")
