#!/usr/bin/env Rscript
# Reference outputs of surveillance::algo.glrnb / algo.glrpois (r-cran-surveillance 1.20.3) for dhnet's
# GLR detectors (src/dhnet/surveillance/glr.py).
#
# Run from the repository root:  Rscript --vanilla tools/r/goldens_glr.R
# Writes tests/surveillance/goldens/glr/<case>.csv (series,period_start,observed,expected,upperbound,alarm,score)
# and tests/surveillance/goldens/glr/cases.json, plus testthat_glrnb.json (the data of the package's own
# tests/testthat/test-algo.glrnb.R, which draws them with set.seed(42)).
#
# Per case and series the method runs on a one-column, date-indexed sts object so that the in-control mean
# (control$mu0 after the call, our `expected`) and the dispersion alpha R used (control$alpha) can be read back.
# `upperbound` is R's upperbound for the case's `ret`; `score` is R's upperbound of the same call with
# ret = "value" (the GLR statistic).

suppressPackageStartupMessages(library(surveillance))

out_dir <- file.path("tests", "surveillance", "goldens", "glr")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
unlink(file.path(out_dir, "*"))

fmt <- function(v) ifelse(is.na(v), "", sprintf("%.17g", v))

read_long <- function(input, series) {
  d <- read.csv(file.path("data", "surveillance", input), stringsAsFactors = FALSE, check.names = FALSE)
  d$series <- as.character(d$series)
  if (is.null(series)) series <- unique(d$series)
  dates <- sort(unique(d$period_start))
  obs <- sapply(series, function(s) {
    di <- d[d$series == s, ]
    di$count[match(dates, di$period_start)]
  })
  obs <- matrix(obs, nrow = length(dates), dimnames = list(NULL, series))
  list(dates = as.Date(dates), observed = obs, series = series)
}

make_sts <- function(dates, observed) {
  sts(observed = observed, epoch = as.numeric(dates), epochAsDate = TRUE, frequency = 52)
}

json_scalar <- function(v) {
  if (is.logical(v)) return(if (v) "true" else "false")
  if (is.character(v)) return(paste0("\"", gsub("\"", "\\\\\"", v), "\""))
  sprintf("%.17g", v)
}
# A JSON value: NULL -> null, a list -> an object, I(vector) or a vector of length != 1 -> an array.
json_value <- function(v) {
  if (is.null(v)) return("null")
  if (is.list(v)) {
    if (length(v) == 0) return("{}")
    return(paste0("{", paste(sprintf("\"%s\": %s", names(v), vapply(v, json_value, "")), collapse = ", "), "}"))
  }
  if (inherits(v, "AsIs") || length(v) != 1) {
    return(paste0("[", paste(vapply(unclass(v), json_scalar, ""), collapse = ", "), "]"))
  }
  json_scalar(v)
}

manifest <- character(0)

run_case <- function(case, method, input, series, from, to, settings, control, r_call) {
  dat <- read_long(input, series)
  range <- which(dat$dates >= as.Date(from) & dat$dates <= as.Date(to))
  control$range <- range
  if (is.numeric(control[["mu0"]])) control$mu0 <- rep(control$mu0, length(range))
  algo <- if (method == "glrnb") algo.glrnb else algo.glrpois
  rows <- character(0)
  alphas <- list()
  for (k in seq_along(dat$series)) {
    s <- make_sts(dat$dates, dat$observed[, k, drop = FALSE])
    dp <- sts2disProg(s)
    res <- suppressMessages(algo(dp, control = control))
    vcontrol <- control
    vcontrol$ret <- "value"
    val <- suppressMessages(algo(dp, control = vcontrol))
    stopifnot(identical(c(val$alarm), c(res$alarm)))
    mu0 <- res$control$mu0
    if (length(mu0) == 1) mu0 <- rep(mu0, length(range))
    if (method == "glrnb" && is.null(control[["alpha"]])) {
      alphas[[dat$series[k]]] <- res$control$alpha
    }
    rows <- c(rows, paste(
      sprintf("\"%s\"", dat$series[k]), format(dat$dates[range], "%Y-%m-%d"),
      fmt(dat$observed[range, k]), fmt(mu0), fmt(c(res$upperbound)),
      as.integer(c(res$alarm)), fmt(c(val$upperbound)), sep = ","))
  }
  writeLines(c("series,period_start,observed,expected,upperbound,alarm,score", rows),
             file.path(out_dir, paste0(case, ".csv")))
  entry <- list(case = case, method = method, input = input, series = I(dat$series), settings = settings,
                from = from, to = to, r_call = r_call)
  if (length(alphas)) entry$r_alpha <- alphas
  manifest <<- c(manifest, json_value(entry))
  cat("glr goldens:", case, "\n", file = stderr())
}

agona <- "salmonella_agona_uk_weekly.csv"
hepa <- "hepatitis_a_berlin_districts_weekly.csv"
newport <- "salmonella_newport_germany_states_weekly.csv"
measles <- "measles_germany_states_weekly.csv"

# --- Poisson (algo.glrpois) ----------------------------------------------------------------------------------------
run_case("glrpois_default", "glrpois", agona, NULL, "1994-01-03", "1995-12-18",
         list(), list(),
         "algo.glrpois(disProg, control = list(range = range))")
run_case("glrpois_cases_carl3", "glrpois", agona, NULL, "1994-01-03", "1995-12-18",
         list(c_arl = 3, ret = "cases"), list(c.ARL = 3, ret = "cases"),
         "algo.glrpois(disProg, control = list(range = range, c.ARL = 3, ret = \"cases\"))")
run_case("glrpois_s2_trend", "glrpois", newport, c("Bavaria", "North.Rhine.Westphalia"), "2012-01-02", "2013-06-24",
         list(mu0_s = 2, mu0_trend = TRUE), list(mu0 = list(S = 2, trend = TRUE)),
         "algo.glrpois(disProg, control = list(range = range, mu0 = list(S = 2, trend = TRUE)))")
run_case("glrpois_window_m26", "glrpois", agona, NULL, "1993-01-04", "1994-12-26",
         list(m = 26, c_arl = 2, ret = "cases"), list(M = 26, c.ARL = 2, ret = "cases"),
         "algo.glrpois(disProg, control = list(range = range, M = 26, c.ARL = 2, ret = \"cases\"))")
run_case("glrpois_dec", "glrpois", agona, NULL, "1994-01-03", "1995-12-18",
         list(dir = "dec", c_arl = 2, ret = "cases"), list(dir = "dec", c.ARL = 2, ret = "cases"),
         "algo.glrpois(disProg, control = list(range = range, dir = \"dec\", c.ARL = 2, ret = \"cases\"))")
run_case("glrpois_theta_cases", "glrpois", agona, NULL, "1994-01-03", "1995-12-18",
         list(theta = log(2), ret = "cases"), list(theta = log(2), ret = "cases"),
         "algo.glrpois(disProg, control = list(range = range, theta = log(2), ret = \"cases\"))")
run_case("glrpois_epi", "glrpois", newport, c("Bavaria", "Berlin"), "2011-01-03", "2012-12-24",
         list(change = "epi", c_arl = 4), list(change = "epi", c.ARL = 4),
         "algo.glrpois(disProg, control = list(range = range, change = \"epi\", c.ARL = 4))")
run_case("glrpois_refit", "glrpois", agona, NULL, "1993-01-04", "1995-12-18",
         list(mu0_refit = TRUE, c_arl = 3), list(mu0 = list(S = 1, trend = FALSE, refit = TRUE), c.ARL = 3),
         "algo.glrpois(disProg, control = list(range = range, mu0 = list(S = 1, trend = FALSE, refit = TRUE), c.ARL = 3))")

# --- negative binomial (algo.glrnb) ----------------------------------------------------------------------------------
run_case("glrnb_default", "glrnb", agona, NULL, "1994-01-03", "1995-12-18",
         list(alpha = NULL), list(),
         "algo.glrnb(disProg, control = list(range = range))")
run_case("glrnb_hepatitis", "glrnb", hepa, c("mitt", "scho"), "2005-01-03", "2006-07-17",
         list(alpha = NULL, c_arl = 3), list(c.ARL = 3),
         "algo.glrnb(disProg, control = list(range = range, c.ARL = 3))")
run_case("glrnb_alpha_cases", "glrnb", measles, c("Bavaria", "Hesse"), "2006-01-02", "2006-12-25",
         list(alpha = 0.5, ret = "cases", c_arl = 2), list(alpha = 0.5, ret = "cases", c.ARL = 2),
         "algo.glrnb(disProg, control = list(range = range, alpha = 0.5, ret = \"cases\", c.ARL = 2))")
run_case("glrnb_cases_estimated", "glrnb", agona, NULL, "1995-01-02", "1995-12-18",
         list(alpha = NULL, ret = "cases"), list(ret = "cases"),
         "algo.glrnb(disProg, control = list(range = range, ret = \"cases\"))")
run_case("glrnb_s2_trend_dec", "glrnb", newport, c("Bavaria", "North.Rhine.Westphalia"), "2012-01-02", "2013-06-24",
         list(alpha = NULL, mu0_s = 2, mu0_trend = TRUE, dir = "dec", c_arl = 2),
         list(mu0 = list(S = 2, trend = TRUE), dir = "dec", c.ARL = 2),
         "algo.glrnb(disProg, control = list(range = range, mu0 = list(S = 2, trend = TRUE), dir = \"dec\", c.ARL = 2))")
run_case("glrnb_theta", "glrnb", agona, NULL, "1994-01-03", "1995-12-18",
         list(alpha = NULL, theta = log(1.5), ret = "cases"), list(theta = log(1.5), ret = "cases"),
         "algo.glrnb(disProg, control = list(range = range, theta = log(1.5), ret = \"cases\"))")
run_case("glrnb_epi", "glrnb", agona, NULL, "1994-01-03", "1995-12-18",
         list(alpha = NULL, change = "epi"), list(change = "epi"),
         "algo.glrnb(disProg, control = list(range = range, change = \"epi\"))")
run_case("glrnb_window", "glrnb", newport, c("Bavaria", "Lower.Saxony"), "2012-01-02", "2013-06-24",
         list(alpha = 0.4, m = 20, mtilde = 2, c_arl = 3), list(alpha = 0.4, M = 20, Mtilde = 2, c.ARL = 3),
         "algo.glrnb(disProg, control = list(range = range, alpha = 0.4, M = 20, Mtilde = 2, c.ARL = 3))")
run_case("glrnb_refit", "glrnb", agona, NULL, "1993-01-04", "1995-12-18",
         list(alpha = NULL, mu0_refit = TRUE, c_arl = 3), list(mu0 = list(S = 1, trend = FALSE, refit = TRUE), c.ARL = 3),
         "algo.glrnb(disProg, control = list(range = range, mu0 = list(S = 1, trend = FALSE, refit = TRUE), c.ARL = 3))")
run_case("glrnb_mu0_constant", "glrnb", measles, c("Bavaria", "North Rhine-Westphalia"), "2006-01-02", "2007-06-25",
         list(mu0 = 3, alpha = 0.3, c_arl = 4), list(mu0 = 3, alpha = 0.3, c.ARL = 4),
         "algo.glrnb(disProg, control = list(range = range, mu0 = rep(3, length(range)), alpha = 0.3, c.ARL = 4))")

writeLines(c("[", paste0("  ", manifest, collapse = ",\n"), "]"), file.path(out_dir, "cases.json"))

# --- the data of the package's own tests/testthat/test-algo.glrnb.R --------------------------------------------------
t <- 1:120
beta <- c(1.5, 0.6, 0.6)
omega <- 2 * pi / 52
alpha <- 0.2
base <- beta[1] + beta[2] * cos(omega * t) + beta[3] * sin(omega * t)
tau <- 100
kappa <- 0.4
mu0 <- exp(base)
set.seed(42)
x <- rnbinom(length(t), mu = mu0 * (exp(kappa)^(t >= tau)), size = 1 / alpha)
writeLines(paste0("{\"source\": \"surveillance 1.20.3 tests/testthat/test-algo.glrnb.R: set.seed(42); ",
                  "x <- rnbinom(120, mu = mu0 * exp(0.4)^(t >= 100), size = 1/0.2)\", \"x\": [",
                  paste(x, collapse = ", "), "]}"),
           file.path(out_dir, "testthat_glrnb.json"))
