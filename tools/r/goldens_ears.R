# Reference outputs of surveillance::earsC (R package surveillance 1.20.3) for dhnet's EARS C1/C2/C3.
#
# Run from the repository root:  Rscript --vanilla tools/r/goldens_ears.R
# Reads data/surveillance/*.csv, builds date-indexed sts objects, runs earsC with several settings and writes
# tests/surveillance/goldens/ears/<case>.csv (series,period_start,observed,expected,upperbound,alarm,score)
# plus tests/surveillance/goldens/ears/cases.json.
#
# observed, upperbound and alarm are earsC's output.  earsC returns no expected value and no statistic, so
# `expected` (the mean of the reference window) and `score` (C1/C2: (y - mean) / max(sd, minSigma); C3: the C3
# statistic sum_{i=t-2}^{t} max(0, C2_i - 1) of ?earsC) are computed below with the same reference windows as
# earsC's own code (outer(range, lags, "-")).  Numbers are written with sprintf("%.17g"); NA and NaN as empty.

suppressPackageStartupMessages(library(surveillance))
stopifnot(packageVersion("surveillance") == "1.20.3")

data_dir <- file.path("data", "surveillance")
out_dir <- file.path("tests", "surveillance", "goldens", "ears")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
unlink(list.files(out_dir, full.names = TRUE))

# ---- helpers --------------------------------------------------------------------------------------------
read_sts <- function(input, series, frequency) {
  d <- read.csv(file.path(data_dir, input), colClasses = c(series = "character", period_start = "character"))
  if (is.null(series)) series <- unique(d$series)
  dates <- sort(unique(d$period_start))
  obs <- sapply(series, function(s) {
    ds <- d[d$series == s, ]
    ds$count[match(dates, ds$period_start)]
  })
  obs <- matrix(obs, ncol = length(series), dimnames = list(NULL, series))
  stopifnot(!anyNA(obs))
  args <- list(observed = obs, epoch = as.numeric(as.Date(dates)), epochAsDate = TRUE, frequency = frequency)
  if ("population" %in% names(d)) {
    args$population <- sapply(series, function(s) {
      ds <- d[d$series == s, ]
      ds$population[match(dates, ds$period_start)]
    })
  }
  list(sts = do.call(sts, args), dates = dates, series = series)
}

fmt <- function(x) {
  s <- sprintf("%.17g", as.numeric(x))
  s[is.na(x)] <- ""
  s
}

json_value <- function(v) {
  if (is.null(v)) return("null")
  if (is.character(v)) {
    v <- gsub("\\\\", "\\\\\\\\", v)
    v <- gsub("\"", "\\\\\"", v)
    return(paste0("\"", v, "\""))
  }
  if (is.logical(v)) return(if (v) "true" else "false")
  if (is.numeric(v)) return(as.character(v))
  stop("unsupported JSON value")
}

json_object <- function(x) {
  parts <- vapply(names(x), function(k) {
    v <- x[[k]]
    val <- if (is.list(v)) json_object(v)
    else if (length(v) > 1 || (k == "series" && !is.null(v))) paste0("[", paste(vapply(v, json_value, ""), collapse = ", "), "]")
    else json_value(v)
    paste0(json_value(k), ": ", val)
  }, "")
  paste0("{", paste(parts, collapse = ", "), "}")
}

# mean / sd of the reference windows exactly as earsC builds them
ref_stats <- function(y, tt, lags, minSigma) {
  ndx <- as.vector(outer(tt, lags, FUN = "-"))
  refVals <- matrix(y[ndx], ncol = length(lags))
  m <- apply(refVals, 1, mean)
  s <- pmax(apply(refVals, 1, sd), minSigma)
  list(mean = m, sigma = s, stat = (y[tt] - m) / s)
}

aux_stats <- function(y, range, method, baseline, minSigma) {
  if (method == "C1") {
    r <- ref_stats(y, range, baseline:1, minSigma)
    return(list(expected = r$mean, score = r$stat))
  }
  c2 <- function(tt) ref_stats(y, tt, (baseline + 2):3, minSigma)
  r0 <- c2(range)
  if (method == "C2") return(list(expected = r0$mean, score = r0$stat))
  ex <- function(s) pmax(0, s - 1)
  list(expected = r0$mean, score = ex(c2(range - 2)$stat) + ex(c2(range - 1)$stat) + ex(r0$stat))
}

# ---- cases -----------------------------------------------------------------------------------------------
salm <- "salmonella_newport_germany_states_weekly.csv"
hepa <- "hepatitis_a_berlin_districts_weekly.csv"
meas <- "measles_germany_states_weekly.csv"
mort <- "mortality_denmark_agegroups_weekly.csv"
rota <- "rotavirus_brandenburg_agegroups_monthly.csv"
agona <- "salmonella_agona_uk_weekly.csv"
wems <- "measles_weser_ems_districts_weekly.csv"

cases <- list(
  list(case = "c1_default_salmnewport", input = salm, freq = 52,
       series = c("Bavaria", "North.Rhine.Westphalia", "Saarland"),
       control = list(method = "C1"), from = "2011-01-03", to = "2011-12-26"),
  list(case = "c1_alpha005_salmnewport", input = salm, freq = 52,
       series = c("Baden.Wuerttemberg", "Berlin", "Hesse"),
       control = list(method = "C1", alpha = 0.05), from = "2012-01-02", to = "2012-12-31"),
  list(case = "c2_default_hepatitis_a", input = hepa, freq = 52, series = c("chwi", "mitt", "trko"),
       control = list(method = "C2"), from = "2005-01-03", to = "2005-12-26"),
  list(case = "c3_default_measles_states", input = meas, freq = 52, series = c("Bavaria", "Saarland", "Hesse"),
       control = list(method = "C3"), from = "2006-01-02", to = "2006-12-25"),
  list(case = "c1_baseline12_minsigma05_measles_states", input = meas, freq = 52,
       series = c("Berlin", "Bremen", "North Rhine-Westphalia"),
       control = list(method = "C1", baseline = 12, minSigma = 0.5), from = "2006-01-02", to = "2006-12-25"),
  list(case = "c2_baseline5_alpha005_minsigma1_mortality", input = mort, freq = 52, series = c("[1,5)", "[65,75)"),
       control = list(method = "C2", baseline = 5, alpha = 0.05, minSigma = 1), from = "2007-01-01", to = "2007-12-31"),
  list(case = "c3_baseline10_alpha01_minsigma05_hepatitis_a", input = hepa, freq = 52,
       series = c("frkr", "chwi", "lich"),
       control = list(method = "C3", baseline = 10, alpha = 0.1, minSigma = 0.5),
       from = "2002-01-07", to = "2002-12-30"),
  list(case = "c1_baseline3_alpha005_rotavirus_monthly", input = rota, freq = 12, series = NULL,
       control = list(method = "C1", baseline = 3, alpha = 0.05), from = "2010-01-01", to = "2012-12-01"),
  list(case = "c3_default_salmonella_agona_full_range", input = agona, freq = 52, series = NULL,
       control = list(method = "C3"), from = NULL, to = NULL),
  list(case = "c3_baseline4_alpha005_rotavirus_monthly", input = rota, freq = 12, series = c("05-09", "10-14"),
       control = list(method = "C3", baseline = 4, alpha = 0.05), from = "2008-01-01", to = "2013-12-01"),
  list(case = "c2_alpha001_minsigma05_weser_ems", input = wems, freq = 52, series = c("03401", "03402", "03459"),
       control = list(method = "C2", alpha = 0.01, minSigma = 0.5), from = "2001-04-02", to = "2002-12-23"),
  list(case = "c3_two_periods_salmnewport", input = salm, freq = 52, series = c("Bavaria", "Berlin"),
       control = list(method = "C3"), from = "2013-06-03", to = "2013-06-10"),
  list(case = "c1_default_range_measles_states", input = meas, freq = 52, series = c("Saxony", "Thuringia"),
       control = list(method = "C1"), from = NULL, to = NULL)
)

manifest <- character(0)
for (cs in cases) {
  x <- read_sts(cs$input, cs$series, cs$freq)
  n <- length(x$dates)
  ctl <- cs$control
  method <- ctl$method
  baseline <- if (is.null(ctl$baseline)) 7 else ctl$baseline
  minSigma <- if (is.null(ctl$minSigma)) 0 else ctl$minSigma
  maxLag <- switch(method, C1 = baseline, C2 = baseline + 2, C3 = baseline + 4)
  from <- if (is.null(cs$from)) x$dates[maxLag + 1] else cs$from
  to <- if (is.null(cs$to)) x$dates[n] else cs$to
  rng <- which(x$dates >= from & x$dates <= to)
  ctl_call <- c(list(range = rng), ctl)
  res <- earsC(x$sts, control = ctl_call)
  rows <- list()
  for (j in seq_along(x$series)) {
    y <- as.numeric(observed(x$sts)[, j])
    aux <- aux_stats(y, rng, method, baseline, minSigma)
    stopifnot(all(observed(res)[, j] == y[rng]))
    rows[[j]] <- data.frame(
      series = x$series[j], period_start = x$dates[rng], observed = fmt(y[rng]),
      expected = fmt(aux$expected), upperbound = fmt(upperbound(res)[, j]),
      alarm = ifelse(is.na(alarms(res)[, j]), "", as.integer(alarms(res)[, j])),
      score = fmt(aux$score), stringsAsFactors = FALSE
    )
  }
  out <- do.call(rbind, rows)
  write.csv(out, file.path(out_dir, paste0(cs$case, ".csv")), row.names = FALSE, quote = 1, na = "")
  settings <- list(variant = method, baseline = as.integer(baseline), min_sigma = minSigma,
                   alpha = if (is.null(ctl$alpha)) NULL else ctl$alpha)
  r_call <- paste0(
    "earsC(sts, control = ", paste(deparse(c(list(range = quote(RANGE)), ctl)), collapse = ""), ")",
    " with RANGE = which(epoch dates >= '", from, "' & <= '", to, "')"
  )
  entry <- list(case = cs$case, input = cs$input, series = cs$series, settings = settings,
                from = from, to = to, r_call = r_call)
  # explicit null for "all series"
  if (is.null(cs$series)) entry["series"] <- list(NULL)
  manifest <- c(manifest, json_object(entry))
  cat(sprintf("ears golden %-50s %4d rows\n", cs$case, nrow(out)), file = stderr())
}
writeLines(c("[", paste0("  ", manifest, c(rep(",", length(manifest) - 1), "")), "]"),
           file.path(out_dir, "cases.json"))
