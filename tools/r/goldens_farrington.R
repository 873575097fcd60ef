# Reference outputs of surveillance::farringtonFlexible (R package surveillance 1.20.3) for dhnet's
# farrington-flexible method.
#
# Run from the repository root:  Rscript --vanilla tools/r/goldens_farrington.R
# Reads data/surveillance/*.csv, builds date-indexed sts objects (epochAsDate = TRUE), runs farringtonFlexible()
# with several settings and writes tests/surveillance/goldens/farrington/<case>.csv
# (series,period_start,observed,expected,upperbound,alarm,score,pvalue) plus .../farrington/cases.json.
#
# upperbound and alarm are R's upperbound(res) and alarms(res); expected, score and pvalue are res@control$expected,
# $score and $pvalue.  Numbers are written with sprintf("%.17g"); NA and NaN as empty.  Every case spells out all
# settings (dhnet's field names in cases.json, R's control names in the call).  Takes about a minute.

suppressPackageStartupMessages(library(surveillance))
stopifnot(packageVersion("surveillance") == "1.20.3")

data_dir <- file.path("data", "surveillance")
out_dir <- file.path("tests", "surveillance", "goldens", "farrington")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
unlink(list.files(out_dir, full.names = TRUE))

# ---- helpers --------------------------------------------------------------------------------------------
read_sts <- function(input, series, frequency) {
  d <- read.csv(file.path(data_dir, input), colClasses = c(series = "character", period_start = "character"))
  if (is.null(series)) series <- unique(d$series)
  dates <- sort(unique(d$period_start))
  pick <- function(col) {
    m <- sapply(series, function(s) {
      ds <- d[d$series == s, ]
      ds[[col]][match(dates, ds$period_start)]
    })
    matrix(m, ncol = length(series), dimnames = list(NULL, series))
  }
  obs <- pick("count")
  stopifnot(!anyNA(obs))
  args <- list(observed = obs, epoch = as.numeric(as.Date(dates)), epochAsDate = TRUE, frequency = frequency)
  if ("population" %in% names(d)) args$population <- pick("population")
  list(sts = do.call(sts, args), dates = dates, series = series)
}

fmt <- function(x) {
  s <- sprintf("%.17g", as.numeric(x))
  s[is.na(x)] <- ""
  s
}

json_value <- function(v) {
  if (is.null(v)) return("null")
  if (is.character(v)) return(paste0("\"", gsub("\"", "\\\\\"", gsub("\\\\", "\\\\\\\\", v)), "\""))
  if (is.logical(v)) return(if (v) "true" else "false")
  if (is.numeric(v)) return(format(v, digits = 15))
  stop("unsupported JSON value")
}

json_array <- function(v) paste0("[", paste(vapply(v, json_value, ""), collapse = ", "), "]")

json_object <- function(x, arrays = character(0)) {
  parts <- vapply(names(x), function(k) {
    v <- x[[k]]
    val <- if (is.list(v)) json_object(v, arrays)
    else if (k %in% arrays && !is.null(v)) json_array(v)
    else json_value(v)
    paste0(json_value(k), ": ", val)
  }, "")
  paste0("{", paste(parts, collapse = ", "), "}")
}

# R 1.20.3 defaults (dhnet field names) and the two published presets.
defaults <- list(b = 5, w = 3, reweight = TRUE, weights_threshold = 2.58, alpha = 0.05, trend = TRUE,
                 p_threshold_trend = 0.05, limit54 = c(5, 4), powertrans = "2/3", population_offset = FALSE,
                 no_periods = 1, past_weeks_not_included = NULL, threshold_method = "delta")
farrington <- modifyList(defaults, list(no_periods = 1, weights_threshold = 1, past_weeks_not_included = 3,
                                        p_threshold_trend = 0.05, threshold_method = "delta"))
noufaily <- modifyList(defaults, list(no_periods = 10, weights_threshold = 2.58, past_weeks_not_included = 26,
                                      p_threshold_trend = 1, threshold_method = "nbPlugin"))
with_settings <- function(.base, ...) modifyList(.base, list(...), keep.null = TRUE)  # (.base: no partial match with b)

r_control <- function(s) {
  list(b = s$b, w = s$w, reweight = s$reweight, weightsThreshold = s$weights_threshold, alpha = s$alpha,
       trend = s$trend, pThresholdTrend = s$p_threshold_trend, limit54 = s$limit54, powertrans = s$powertrans,
       populationOffset = s$population_offset, noPeriods = s$no_periods,
       pastWeeksNotIncluded = s$past_weeks_not_included, thresholdMethod = s$threshold_method,
       glmWarnings = FALSE)
}

# ---- cases -----------------------------------------------------------------------------------------------
newport <- "salmonella_newport_germany_states_weekly.csv"
meas <- "measles_germany_states_weekly.csv"
flu <- "influenza_bavaria_bw_districts_weekly.csv"
mort <- "mortality_denmark_agegroups_weekly.csv"
rota <- "rotavirus_brandenburg_agegroups_monthly.csv"
agona <- "salmonella_agona_uk_weekly.csv"
hepa <- "hepatitis_a_berlin_districts_weekly.csv"
hosp <- "salmonella_hospitalized_germany_weekly.csv"
campy <- "campylobacter_germany_weekly_humidity.csv"
wems <- "measles_weser_ems_districts_weekly.csv"

np_states <- c("North.Rhine.Westphalia", "Bavaria", "Bremen", "Saarland")
case <- function(name, input, freq, series, settings, from, to) {
  list(case = name, input = input, freq = freq, series = series, settings = settings, from = from, to = to)
}
cases <- list(
  case("farrington_newport", newport, 52, np_states, farrington, "2013-01-07", "2013-12-30"),
  case("noufaily_newport_zero_stretches", newport, 52, np_states, noufaily, "2013-01-07", "2013-12-30"),
  case("defaults_agona_default_range", agona, 52, NULL, defaults, "1995-01-16", "1995-12-18"),
  case("muan_mortality", mort, 52, c("[0,1)", "[45,65)", "[85,Inf)"),
       with_settings(noufaily, threshold_method = "muan"), "2007-01-01", "2007-12-31"),
  case("noufaily_notrend_hospitalized", hosp, 52, NULL, with_settings(noufaily, trend = FALSE),
       "2012-01-02", "2012-12-31"),
  case("farrington_powertrans_none_campylobacter", campy, 52, NULL,
       with_settings(farrington, powertrans = "none"), "2010-01-04", "2010-12-27"),
  case("farrington_powertrans_half_b3_hepatitis_a", hepa, 52, c("chwi", "pank", "scho"),
       with_settings(farrington, powertrans = "1/2", b = 3), "2005-01-03", "2005-12-26"),
  case("noufaily_population_offset_influenza", flu, 52, c("9162", "8111", "8336"),
       with_settings(noufaily, population_offset = TRUE), "2008-06-02", "2008-12-15"),
  case("noufaily_b1_short_history_measles", meas, 52,
       c("North Rhine-Westphalia", "Bavaria", "Bremen", "Saarland"),
       with_settings(noufaily, b = 1), "2006-01-16", "2006-12-25"),
  case("farrington_b2_w2_short_history_measles", meas, 52, c("North Rhine-Westphalia", "Hesse", "Saarland"),
       with_settings(farrington, b = 2, w = 2), "2007-01-08", "2007-12-24"),
  case("farrington_limit54_0_1_agona", agona, 52, NULL, with_settings(farrington, limit54 = c(0, 1)),
       "1995-01-23", "1995-12-18"),
  case("noufaily_limit54_2_2_newport", newport, 52, c("North.Rhine.Westphalia", "Berlin"),
       with_settings(noufaily, limit54 = c(2, 2)), "2011-01-03", "2011-12-26"),
  case("noufaily_rotavirus_monthly", rota, 12, c("00-04", "10-14", "70+"), noufaily, "2011-01-01", "2013-12-01"),
  case("farrington_rotavirus_monthly", rota, 12, c("00-04", "10-14", "70+"), farrington,
       "2011-01-01", "2013-12-01"),
  case("nbplugin_alpha001_noreweight_hepatitis_a", hepa, 52, c("chwi", "scho"),
       with_settings(noufaily, alpha = 0.01, reweight = FALSE, b = 3), "2005-01-03", "2005-12-26"),
  case("farrington_pwni0_alpha01_agona", agona, 52, NULL,
       with_settings(farrington, past_weeks_not_included = 0, alpha = 0.1), "1995-01-23", "1995-12-18"),
  case("nbplugin_noperiods4_ptrend005_w2_mortality", mort, 52, c("[5,15)", "[75,85)"),
       with_settings(noufaily, no_periods = 4, p_threshold_trend = 0.05, w = 2, weights_threshold = 1, b = 4),
       "2008-01-07", "2008-12-22"),
  case("muan_notrend_limit54_10_6_influenza", flu, 52, c("9162", "9184"),
       with_settings(noufaily, threshold_method = "muan", limit54 = c(10, 6), trend = FALSE),
       "2007-01-01", "2007-12-31"),
  case("delta_b1_population_offset_weser_ems", wems, 52, c("03402", "03404", "03457"),
       with_settings(farrington, b = 1, population_offset = TRUE, powertrans = "none"), "2002-01-14", "2002-12-23"),
  case("noufaily_nonconvergence_influenza", flu, 52, c("9764", "8435"), noufaily, "2008-09-01", "2008-12-15"),
  # sparse districts: levels without counts drift to -Inf while strong trends converge (mu near R's clamp)
  case("noufaily_sparse_trends_influenza", flu, 52, c("9777", "9162", "8425"), noufaily, "2008-04-07", "2008-06-30")
)

manifest <- character(0)
t_all <- proc.time()[["elapsed"]]
for (cs in cases) {
  x <- read_sts(cs$input, cs$series, cs$freq)
  rng <- which(x$dates >= cs$from & x$dates <= cs$to)
  stopifnot(length(rng) > 0, x$dates[rng[1]] == cs$from, x$dates[rng[length(rng)]] == cs$to)
  ctl <- c(list(range = rng), r_control(cs$settings))
  res <- withCallingHandlers(
    farringtonFlexible(x$sts, control = ctl),
    warning = function(w) if (grepl("could not converge", conditionMessage(w))) invokeRestart("muffleWarning")
  )
  rows <- list()
  for (j in seq_along(x$series)) {
    al <- alarms(res)[, j]
    rows[[j]] <- data.frame(
      series = x$series[j], period_start = x$dates[rng],
      observed = fmt(observed(res)[, j]),
      expected = fmt(res@control$expected[, j]),
      upperbound = fmt(upperbound(res)[, j]),
      alarm = ifelse(is.na(al), "", as.integer(al)),
      score = fmt(res@control$score[, j]),
      pvalue = fmt(res@control$pvalue[, j]),
      stringsAsFactors = FALSE
    )
  }
  out <- do.call(rbind, rows)
  write.csv(out, file.path(out_dir, paste0(cs$case, ".csv")), row.names = FALSE, quote = 1, na = "")
  r_ctl <- r_control(cs$settings)
  r_call <- paste0(
    "farringtonFlexible(sts, control = ",
    paste(deparse(c(list(range = quote(RANGE)), r_ctl), width.cutoff = 500L), collapse = ""),
    ") with RANGE = which(epoch dates >= '", cs$from, "' & <= '", cs$to, "')"
  )
  settings <- cs$settings
  entry <- list(case = cs$case, input = cs$input, series = cs$series, settings = settings,
                from = cs$from, to = cs$to, r_call = r_call)
  if (is.null(cs$series)) entry["series"] <- list(NULL)
  if (is.null(settings$past_weeks_not_included)) entry$settings["past_weeks_not_included"] <- list(NULL)
  manifest <- c(manifest, json_object(entry, arrays = c("series", "limit54")))
  cat(sprintf("farrington golden %-48s %4d rows %4d alarms %3d NA\n", cs$case, nrow(out),
              sum(out$alarm == "1"), sum(out$alarm == "")), file = stderr())
}
writeLines(c("[", paste0("  ", manifest, c(rep(",", length(manifest) - 1), "")), "]"),
           file.path(out_dir, "cases.json"))
cat(sprintf("farrington goldens: %d cases in %.0f s\n", length(cases), proc.time()[["elapsed"]] - t_all),
    file = stderr())
