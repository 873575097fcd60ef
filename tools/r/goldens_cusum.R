# Reference outputs of surveillance::cusum / algo.cusum (R package surveillance 1.20.3) for dhnet's CUSUM.
#
# Run from the repository root:  Rscript --vanilla tools/r/goldens_cusum.R
# Reads data/surveillance/*.csv, builds date-indexed sts objects, runs cusum() (wrap.algo around algo.cusum) with
# several settings and writes tests/surveillance/goldens/cusum/<case>.csv
# (series,period_start,observed,expected,upperbound,alarm,score) plus tests/surveillance/goldens/cusum/cases.json.
#
# upperbound and alarm come from cusum(sts, control); cusum() keeps neither the expected value nor the CUSUM
# statistic, so `expected` (control$m) and `score` (the $cusum vector) come from algo.cusum() run on
# sts2disProg(sts[, j]) with the same control -- the call wrap.algo makes -- and its alarm/upperbound are checked
# to equal cusum()'s.  Numbers are written with sprintf("%.17g"); NA and NaN as empty.

suppressPackageStartupMessages(library(surveillance))
stopifnot(packageVersion("surveillance") == "1.20.3")

data_dir <- file.path("data", "surveillance")
out_dir <- file.path("tests", "surveillance", "goldens", "cusum")
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

# ---- cases -----------------------------------------------------------------------------------------------
salm <- "salmonella_newport_germany_states_weekly.csv"
hepa <- "hepatitis_a_berlin_districts_weekly.csv"
meas <- "measles_germany_states_weekly.csv"
mort <- "mortality_denmark_agegroups_weekly.csv"
rota <- "rotavirus_brandenburg_agegroups_monthly.csv"
agona <- "salmonella_agona_uk_weekly.csv"
wems <- "measles_weser_ems_districts_weekly.csv"
hosp <- "salmonella_hospitalized_germany_weekly.csv"

cases <- list(
  list(case = "standard_default_agona", input = agona, freq = 52, series = NULL,
       control = list(), from = "1994-01-03", to = "1995-12-18"),
  list(case = "standard_k05_h2_hepatitis_a_zero_history", input = hepa, freq = 52,
       series = c("chwi", "mitt", "trko"),
       control = list(k = 0.5, h = 2), from = "2001-06-04", to = "2002-05-27"),
  list(case = "rossi_measles_states", input = meas, freq = 52, series = c("Bavaria", "Berlin", "Saarland"),
       control = list(trans = "rossi"), from = "2006-01-02", to = "2006-12-25"),
  list(case = "anscombe_mortality", input = mort, freq = 52, series = c("[0,1)", "[15,45)", "[85,Inf)"),
       control = list(trans = "anscombe", k = 1, h = 5), from = "2005-01-03", to = "2005-12-26"),
  list(case = "anscombe2nd_rotavirus_monthly", input = rota, freq = 12, series = NULL,
       control = list(trans = "anscombe2nd"), from = "2010-01-01", to = "2011-12-01"),
  list(case = "pearsonnegbin_alpha02_salmnewport", input = salm, freq = 52,
       series = c("Bavaria", "North.Rhine.Westphalia", "Hesse"),
       control = list(trans = "pearsonNegBin", alpha = 0.2, k = 0.5, h = 3), from = "2011-01-03", to = "2011-12-26"),
  list(case = "none_k2_h5_agona", input = agona, freq = 52, series = NULL,
       control = list(trans = "none", k = 2, h = 5), from = "1993-01-04", to = "1993-12-27"),
  list(case = "glm_standard_k05_h2_mortality", input = mort, freq = 52, series = c("[5,15)", "[85,Inf)"),
       control = list(m = "glm", k = 0.5, h = 2), from = "2006-01-02", to = "2006-12-25"),
  list(case = "glm_rossi_k1_h4_rotavirus_monthly", input = rota, freq = 12, series = c("00-04", "70+"),
       control = list(m = "glm", trans = "rossi", k = 1, h = 4), from = "2008-01-01", to = "2009-12-01"),
  list(case = "m03_anscombe_k05_h2_salmnewport", input = salm, freq = 52,
       series = c("North.Rhine.Westphalia", "Berlin"), control = list(m = 0.3, trans = "anscombe", k = 0.5, h = 2), from = "2012-01-02", to = "2012-12-31"),
  list(case = "glm_standard_k05_h4_hepatitis_a", input = hepa, freq = 52, series = c("chwi", "pank"),
       control = list(m = "glm", k = 0.5, h = 4), from = "2004-01-05", to = "2004-12-27"),
  list(case = "glm_pearsonnegbin_alpha05_measles_states", input = meas, freq = 52,
       series = c("Bavaria", "North Rhine-Westphalia"),
       control = list(m = "glm", trans = "pearsonNegBin", alpha = 0.5), from = "2007-01-01", to = "2007-12-24"),
  list(case = "glm_anscombe2nd_k1_h3_hospitalized", input = hosp, freq = 52, series = NULL,
       control = list(m = "glm", trans = "anscombe2nd", k = 1, h = 3), from = "2008-01-07", to = "2008-12-29"),
  list(case = "glm_standard_weser_ems_all_zero_history", input = wems, freq = 52, series = c("03401", "03457"),
       control = list(m = "glm"), from = "2002-01-07", to = "2002-06-24")
)

manifest <- character(0)
for (cs in cases) {
  x <- read_sts(cs$input, cs$series, cs$freq)
  ctl <- cs$control
  from <- cs$from
  to <- cs$to
  rng <- which(x$dates >= from & x$dates <= to)
  ctl_call <- c(list(range = rng), ctl)
  res <- cusum(x$sts, control = ctl_call, verbose = FALSE)
  rows <- list()
  for (j in seq_along(x$series)) {
    one <- algo.cusum(sts2disProg(x$sts[, j]), control = ctl_call)
    stopifnot(identical(as.numeric(one$upperbound), as.numeric(upperbound(res)[, j])))
    stopifnot(identical(as.logical(one$alarm), as.logical(alarms(res)[, j])))
    y <- as.numeric(observed(x$sts)[, j])
    m <- rep_len(as.numeric(one$control$m), length(rng))
    rows[[j]] <- data.frame(
      series = x$series[j], period_start = x$dates[rng], observed = fmt(y[rng]),
      expected = fmt(m), upperbound = fmt(upperbound(res)[, j]),
      alarm = ifelse(is.na(alarms(res)[, j]), "", as.integer(alarms(res)[, j])),
      score = fmt(one$cusum), stringsAsFactors = FALSE
    )
  }
  out <- do.call(rbind, rows)
  write.csv(out, file.path(out_dir, paste0(cs$case, ".csv")), row.names = FALSE, quote = 1, na = "")
  settings <- list(k = if (is.null(ctl$k)) 1.04 else ctl$k, h = if (is.null(ctl$h)) 2.26 else ctl$h,
                   m = ctl$m, trans = if (is.null(ctl$trans)) "standard" else ctl$trans,
                   alpha = if (is.null(ctl$alpha)) 0.1 else ctl$alpha)
  if (is.null(ctl$m)) settings["m"] <- list(NULL)
  r_call <- paste0(
    "cusum(sts, control = ", paste(deparse(c(list(range = quote(RANGE)), ctl)), collapse = ""), ")",
    " with RANGE = which(epoch dates >= '", from, "' & <= '", to, "')"
  )
  entry <- list(case = cs$case, input = cs$input, series = cs$series, settings = settings,
                from = from, to = to, r_call = r_call)
  if (is.null(cs$series)) entry["series"] <- list(NULL)
  manifest <- c(manifest, json_object(entry))
  cat(sprintf("cusum golden %-50s %4d rows\n", cs$case, nrow(out)), file = stderr())
}
writeLines(c("[", paste0("  ", manifest, c(rep(",", length(manifest) - 1), "")), "]"),
           file.path(out_dir, "cases.json"))
