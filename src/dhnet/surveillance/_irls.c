/* Compiled kernel of the batched quasi-Poisson IRLS with a trend (private helper of dhnet.surveillance._glm).
 *
 * One call fits every fit of a chunk laid out (M rows, V virtual levels, F fits), fits innermost, exactly as
 * Chunk._fit does with numpy: the same starting values, the same IRLS steps in closed form from the per-level
 * sums, the same convergence tests, the same switch to per-level sums once the trend has converged
 * ("parking", finished at once here) and the same row weights of the result.  It works on groups of W = 8
 * consecutive fits, one fit per SIMD lane, so that every per-level sum adds its rows in the order numpy's
 * reduction over the first axis does (row 0, 1, ...): the sums are those of the numpy path.  The only
 * difference is exp(): numpy's (SIMD, machine-dependent) against the one below (range reduction and a
 * degree-13 polynomial in fused multiply-adds, within 1 ulp, the same on every x86-64 machine: no FMA
 * contraction elsewhere, see setup.py).  Results agree with the numpy path to about 1e-12 (relative); see
 * docs/engine-conventions.md.
 *
 * Python API (buffers: numpy arrays, C-contiguous float64 unless said):
 *   fit_trend(M, V, L, F, t, lp, w0, wz0, lmap(int64, V), PY, PYT, PYsum, PYTsum, Cy, PYoff, devold, tabs,
 *             trend(uint8), alpha, beta, conv(uint8), ok(uint8), Su, Tu, Uu, wmu, wlast) -> None
 *   row arrays (M, V, F); level arrays (L, F); per-fit arrays (F,); the last nine are written.
 *   exp(x, out) -> None: out = the kernel's exp of x (float64 buffers of one size; for tests).
 *   VERSION: the interface version _glm expects (a stale build of another version is not used).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define W 8
#define MAXIT 25
#define EPSILON 1e-8
#define SWITCH 1e-13

/* The group routine (row passes inlined) is compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA) and the
 * x86-64 baseline (chosen at load time); the lane loops vectorise. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

#define INLINE static inline __attribute__((always_inline))

/* exp(x): n = round(x / ln 2), r = x - n ln 2 (in two parts, by fused multiply-adds), Taylor polynomial of degree
 * 13 on |r| <= 0.35 (truncation below 1e-17) by Horner's rule in fused multiply-adds, times 2^n as two powers of
 * two (so that subnormal results round once).  Within 1 ulp; NaN gives NaN, +inf inf, -inf 0.  fma() rounds once
 * wherever it runs (an instruction in the x86-64-v3/v4 clones, glibc's exact fma in the baseline one), so every
 * clone computes the same values.  Branch-free, so that the lane loops vectorise. */
#define FMA __builtin_fma
INLINE double xexp(double x) {
    const double shifter = 0x1.8p52;
    double xin = x;
    x = x < 710.0 ? x : 710.0; /* min and max as the SIMD instructions have them (NaN: restored at the end) */
    x = x > -746.0 ? x : -746.0;
    double k = FMA(x, 0x1.71547652b82fep0, shifter);
    double n = k - shifter;
    double r = FMA(n, -0x1.62e42fefa39efp-1, x);
    r = FMA(n, -0x1.abc9e3b39803fp-56, r);
    double q = 1.0 / 6227020800.0;
    q = FMA(q, r, 1.0 / 479001600.0);
    q = FMA(q, r, 1.0 / 39916800.0);
    q = FMA(q, r, 1.0 / 3628800.0);
    q = FMA(q, r, 1.0 / 362880.0);
    q = FMA(q, r, 1.0 / 40320.0);
    q = FMA(q, r, 1.0 / 5040.0);
    q = FMA(q, r, 1.0 / 720.0);
    q = FMA(q, r, 1.0 / 120.0);
    q = FMA(q, r, 1.0 / 24.0);
    q = FMA(q, r, 1.0 / 6.0);
    q = FMA(q, r, 0.5);
    q = FMA(q, r, 1.0);
    double p = FMA(q, r, 1.0);
    double k1 = FMA(n, 0.5, shifter);
    double n1 = k1 - shifter;
    double k2 = (n - n1) + shifter;
    uint64_t u1, u2;
    memcpy(&u1, &k1, 8);
    memcpy(&u2, &k2, 8);
    u1 = (u1 + 1023) << 52;
    u2 = (u2 + 1023) << 52;
    double s1, s2;
    memcpy(&s1, &u1, 8);
    memcpy(&s2, &u2, 8);
    double y = (p * s1) * s2;
    return xin != xin ? xin : y;
}

/* numpy's _div: a / b where b > 0, else 0 */
INLINE double div0(double a, double b) { return b > 0 ? a / b : 0.0; }

/* Row sums of a group at the lanes' trend coefficients b: per virtual level and lane, sum_m e, sum_m e t,
 * sum_m e t^2 with e = exp(t b + lp), rows added in order. */
INLINE void pass_sums(Py_ssize_t M, Py_ssize_t V, const double *restrict t, const double *restrict lp,
                             const double *restrict b, double *restrict S, double *restrict T, double *restrict U) {
    memset(S, 0, sizeof(double) * V * W);
    memset(T, 0, sizeof(double) * V * W);
    memset(U, 0, sizeof(double) * V * W);
    for (Py_ssize_t m = 0; m < M; m++) {
        for (Py_ssize_t v = 0; v < V; v++) {
            const double *tp = t + (m * V + v) * W, *lq = lp + (m * V + v) * W;
            double *Sv = S + v * W, *Tv = T + v * W, *Uv = U + v * W;
            for (int j = 0; j < W; j++) {
                double tj = tp[j];
                double e = xexp(tj * b[j] + lq[j]);
                Sv[j] += e;
                Tv[j] += e * tj;
                Uv[j] += e * (tj * tj);
            }
        }
    }
}

/* Sums of the starting values: sum w0, sum w0 t, sum w0 t^2, sum wz0, sum wz0 t per virtual level and lane. */
INLINE void pass_start(Py_ssize_t M, Py_ssize_t V, const double *restrict t, const double *restrict w0,
                              const double *restrict wz0, double *restrict S, double *restrict T,
                              double *restrict U, double *restrict Z, double *restrict ZT) {
    memset(S, 0, sizeof(double) * V * W);
    memset(T, 0, sizeof(double) * V * W);
    memset(U, 0, sizeof(double) * V * W);
    memset(Z, 0, sizeof(double) * V * W);
    memset(ZT, 0, sizeof(double) * V * W);
    for (Py_ssize_t m = 0; m < M; m++) {
        for (Py_ssize_t v = 0; v < V; v++) {
            Py_ssize_t o = (m * V + v) * W;
            for (int j = 0; j < W; j++) {
                double tj = t[o + j], w = w0[o + j], z = wz0[o + j];
                S[v * W + j] += w;
                T[v * W + j] += w * tj;
                U[v * W + j] += w * (tj * tj);
                Z[v * W + j] += z;
                ZT[v * W + j] += z * tj;
            }
        }
    }
}

/* Row weights exp(t b + lp) * f1[v] * f2[v] per lane (f1, f2: per virtual level and lane). */
INLINE void pass_weights(Py_ssize_t M, Py_ssize_t V, const double *restrict t, const double *restrict lp,
                                const double *restrict b, const double *restrict f1, const double *restrict f2,
                                double *restrict out) {
    for (Py_ssize_t m = 0; m < M; m++) {
        for (Py_ssize_t v = 0; v < V; v++) {
            Py_ssize_t o = (m * V + v) * W;
            for (int j = 0; j < W; j++) {
                double e = xexp(t[o + j] * b[j] + lp[o + j]);
                e *= f1[v * W + j];
                e *= f2[v * W + j];
                out[o + j] = e;
            }
        }
    }
}

/* Per virtual level (V, W) -> per level (L, W): the virtual levels of a level added in order. */
INLINE void agg(Py_ssize_t V, Py_ssize_t L, const int64_t *lmap, const double *a, double *out) {
    memset(out, 0, sizeof(double) * L * W);
    for (Py_ssize_t v = 0; v < V; v++) {
        double *o = out + lmap[v] * W;
        for (int j = 0; j < W; j++) o[j] += a[v * W + j];
    }
}

typedef struct {
    Py_ssize_t M, V, L, F;
    const double *t, *lp, *w0, *wz0;
    const int64_t *lmap;
    const double *PY, *PYT, *PYsum, *PYTsum, *Cy, *PYoff, *devold, *tabs;
    const uint8_t *trend;
    double *alpha, *beta, *Su, *Tu, *Uu, *wmu, *wlast;
    uint8_t *conv, *ok;
} Args;

/* Per-lane record of how to rebuild the row weights (numpy: _Out.written, from_start, a1, a2, p1, p2, pb). */
typedef struct {
    int written, from_start;
    double pb;
} LaneOut;

/* Load lanes f0 .. f0+nl-1 of a (M, V, F) array into a (M*V, W) buffer; missing lanes get `fill`. */
INLINE void load(const double *src, Py_ssize_t MV, Py_ssize_t F, Py_ssize_t f0, int nl, double fill, double *dst) {
    for (Py_ssize_t r = 0; r < MV; r++) {
        const double *s = src + r * F + f0;
        double *d = dst + r * W;
        /* each row is in another page (no hardware prefetch): fetch the next group's part now, for later */
        if (f0 + W < F) __builtin_prefetch(s + W);
        int j = 0;
        for (; j < nl; j++) d[j] = s[j];
        for (; j < W; j++) d[j] = fill;
    }
}

/* The per-level tail of a parked fit (numpy: Chunk._levels_tail), for lane j: the trend stays at b, the
 * intercepts step on the per-level sums, which scale with exp(alpha - alpha at parking). */
INLINE void levels_tail(const Args *A, Py_ssize_t f, int it, const double *a0, double b, const double *a_next,
                        const double *bS, const double *bT, const double *bU, double dev0, double *a1, double *a2,
                        double *p1, double *p2, LaneOut *lo, double *work) {
    /* a1, a2, p1, p2: this lane's column of (L, W) arrays */
    Py_ssize_t L = A->L, F = A->F;
    double *a = work, *a_prev = work + L, *S = work + 2 * L, *na = work + 3 * L;
    double cnst = A->Cy[f] - b * A->PYTsum[f] - A->PYoff[f] - A->PYsum[f];
    for (Py_ssize_t l = 0; l < L; l++) {
        a[l] = a_next[l];
        a_prev[l] = a0[l];
    }
    double devold = dev0;
    int conv = 0, okf = 1;
    for (;;) {
        double sa = 0.0, ss = 0.0;
        for (Py_ssize_t l = 0; l < L; l++) S[l] = bS[l] * xexp(a[l] - a0[l]);
        for (Py_ssize_t l = 0; l < L; l++) {
            sa += a[l] * A->PY[l * F + f];
            ss += S[l];
        }
        double dev = 2.0 * (cnst - sa + ss);
        int finite = isfinite(dev);
        int c = finite && (fabs(dev - devold) < EPSILON * (fabs(dev) + 0.1));
        if (c || !finite || it >= MAXIT) {
            conv = c;
            okf = finite;
            break;
        }
        int allfinite = 1;
        for (Py_ssize_t l = 0; l < L; l++) {
            na[l] = a[l] + div0(A->PY[l * F + f], S[l]);
            na[l] -= 1.0;
            allfinite &= isfinite(na[l]) != 0;
        }
        if (!allfinite) {
            okf = 0;
            break;
        }
        for (Py_ssize_t l = 0; l < L; l++) {
            a_prev[l] = a[l];
            a[l] = na[l];
        }
        devold = dev;
        it++;
    }
    A->conv[f] = (uint8_t)conv;
    A->ok[f] = (uint8_t)(A->ok[f] && okf);
    A->beta[f] = b;
    for (Py_ssize_t l = 0; l < L; l++) S[l] = xexp(a_prev[l] - a0[l]);
    for (Py_ssize_t l = 0; l < L; l++) {
        double fl = S[l];
        A->alpha[l * F + f] = a[l];
        A->Su[l * F + f] = bS[l] * fl;
        A->Tu[l * F + f] = bT[l] * fl;
        A->Uu[l * F + f] = bU[l] * fl;
        a1[l * W] = a0[l];
        a2[l * W] = a[l] - a0[l];
        p1[l * W] = a0[l];
        p2[l * W] = a_prev[l] - a0[l];
    }
    lo->written = 1;
    lo->pb = b;
}

CLONES static int fit_group(const Args *A, Py_ssize_t f0, int nl, double *buf) {
    Py_ssize_t M = A->M, V = A->V, L = A->L, F = A->F, MV = M * V;
    double *tb = buf, *lpb = tb + MV * W, *x1 = lpb + MV * W, *x2 = x1 + MV * W;
    double *vS = x2 + MV * W, *vT = vS + V * W, *vU = vT + V * W, *vZ = vU + V * W, *vZT = vZ + V * W;
    double *S = vZT + V * W, *T = S + L * W, *U = T + L * W, *Z = U + L * W, *ZT = Z + L * W;
    double *a = ZT + L * W, *pa = a + L * W, *na = pa + L * W, *pS = na + L * W, *pT = pS + L * W,
           *pU = pT + L * W;
    double *a1 = pU + L * W, *a2 = a1 + L * W, *p1 = a2 + L * W, *p2 = p1 + L * W;
    double *f1 = p2 + L * W, *f2 = f1 + V * W, *work = f2 + V * W, *pk = work + 4 * L; /* pk: 5 L */
    double b[W], pb[W], nb[W], devold[W], bw[W];
    int live[W];
    LaneOut lo[W];
    memset(lo, 0, sizeof lo);
    memset(a1, 0, sizeof(double) * 4 * L * W);

    load(A->t, MV, F, f0, nl, 0.0, tb);
    load(A->lp, MV, F, f0, nl, 0.0, lpb);
    load(A->w0, MV, F, f0, nl, 1.0, x1);
    load(A->wz0, MV, F, f0, nl, 0.0, x2);
    pass_start(M, V, tb, x1, x2, vS, vT, vU, vZ, vZT);
    agg(V, L, A->lmap, vS, S);
    agg(V, L, A->lmap, vT, T);
    agg(V, L, A->lmap, vU, U);
    agg(V, L, A->lmap, vZ, Z);
    agg(V, L, A->lmap, vZT, ZT);
    /* starting coefficients (numpy: _solve) */
    for (int j = 0; j < W; j++) {
        Py_ssize_t f = f0 + j;
        live[j] = 0;
        b[j] = 0.0;
        for (Py_ssize_t l = 0; l < L; l++) a[l * W + j] = 0.0;
        if (j >= nl) continue;
        double d = 0.0, num = 0.0;
        for (Py_ssize_t l = 0; l < L; l++) {
            double s = S[l * W + j], tt = T[l * W + j];
            d += U[l * W + j] - div0(tt * tt, s);
            num += ZT[l * W + j] - div0(tt * Z[l * W + j], s);
        }
        double beta = A->trend[f] ? num / d : 0.0;
        int okf = isfinite(beta) != 0;
        for (Py_ssize_t l = 0; l < L; l++) {
            double s = S[l * W + j];
            double al = s > 0 ? div0(Z[l * W + j] - beta * T[l * W + j], s) : 0.0;
            a[l * W + j] = al;
            okf &= isfinite(al) != 0;
            A->alpha[l * F + f] = al;
            A->Su[l * F + f] = s;
            A->Tu[l * F + f] = T[l * W + j];
            A->Uu[l * F + f] = U[l * W + j];
            pS[l * W + j] = s;
            pT[l * W + j] = T[l * W + j];
            pU[l * W + j] = U[l * W + j];
        }
        b[j] = beta;
        A->beta[f] = beta;
        A->ok[f] = (uint8_t)okf;
        A->conv[f] = 0;
        live[j] = okf;
        devold[j] = A->devold[f];
        if (!isfinite(beta)) b[j] = 0.0; /* keeps the lane's row pass finite; the fit has no result */
    }
    for (int j = 0; j < W; j++) pb[j] = b[j];
    memcpy(pa, a, sizeof(double) * L * W);

    int n_live = 0;
    for (int j = 0; j < W; j++) n_live += live[j];
    for (int it = 1; it <= MAXIT && n_live > 0; it++) {
        /* exp(alpha) per virtual level and lane */
        for (Py_ssize_t v = 0; v < V; v++) {
            const double *av = a + A->lmap[v] * W;
            for (int j = 0; j < W; j++) f1[v * W + j] = xexp(av[j]) * (double)live[j];
        }
        pass_sums(M, V, tb, lpb, b, vS, vT, vU);
        for (Py_ssize_t v = 0; v < V * W; v++) {
            vS[v] *= f1[v];
            vT[v] *= f1[v];
            vU[v] *= f1[v];
        }
        agg(V, L, A->lmap, vS, S);
        agg(V, L, A->lmap, vT, T);
        agg(V, L, A->lmap, vU, U);
        for (int j = 0; j < W; j++) {
            if (!live[j]) continue;
            Py_ssize_t f = f0 + j;
            /* deviance (numpy: _Consts.deviance) */
            double ylm = 0.0, ss = 0.0;
            for (Py_ssize_t l = 0; l < L; l++) {
                ylm += a[l * W + j] * A->PY[l * F + f];
                ss += S[l * W + j];
            }
            ylm = ylm + b[j] * A->PYTsum[f] + A->PYoff[f];
            double dev = 2.0 * (A->Cy[f] - ylm - A->PYsum[f] + ss);
            int finite = isfinite(dev);
            int c = finite && (fabs(dev - devold[j]) / (fabs(dev) + 0.1) < EPSILON);
            if (c || !finite || it == MAXIT) {
                A->conv[f] = (uint8_t)c;
                A->ok[f] = (uint8_t)(A->ok[f] && finite);
                A->beta[f] = b[j];
                for (Py_ssize_t l = 0; l < L; l++) {
                    A->alpha[l * F + f] = a[l * W + j];
                    A->Su[l * F + f] = pS[l * W + j];
                    A->Tu[l * F + f] = pT[l * W + j];
                    A->Uu[l * F + f] = pU[l * W + j];
                    a1[l * W + j] = a[l * W + j];
                    if (it > 1) p1[l * W + j] = pa[l * W + j];
                }
                lo[j].written = 1;
                if (it == 1)
                    lo[j].from_start = 1;
                else
                    lo[j].pb = pb[j];
                live[j] = 0;
                n_live--;
                continue;
            }
            /* IRLS step (numpy: _step) */
            double d = 0.0, num = 0.0;
            for (Py_ssize_t l = 0; l < L; l++) {
                double s = S[l * W + j], tt = T[l * W + j];
                double tbar = div0(tt, s), gy = div0(A->PY[l * F + f], s);
                d += U[l * W + j] - tt * tbar;
                num += A->PYT[l * F + f] - tt * gy;
            }
            double delta = A->trend[f] ? num / d : 0.0;
            int allfinite = 1;
            double moved = 0.0;
            for (Py_ssize_t l = 0; l < L; l++) {
                double s = S[l * W + j], al = a[l * W + j];
                double v = s > 0 ? al + div0(A->PY[l * F + f], s) - 1.0 - delta * div0(T[l * W + j], s) : 0.0;
                na[l * W + j] = v;
                allfinite &= isfinite(v) != 0;
                double mv = A->PY[l * F + f] > 0 ? fabs(v - al) : 0.0;
                moved = mv > moved ? mv : moved;
            }
            nb[j] = b[j] + delta;
            if (!(isfinite(nb[j]) && allfinite)) { /* R: non-finite coefficients */
                A->ok[f] = 0;
                live[j] = 0;
                n_live--;
                continue;
            }
            double db = fabs(nb[j] - b[j]) * A->tabs[f];
            if (!A->trend[f] || (db > moved ? db : moved) <= SWITCH) {
                /* park: the row weights only scale with the intercepts from here on */
                for (Py_ssize_t l = 0; l < L; l++) {
                    double s = S[l * W + j];
                    pk[l] = a[l * W + j];
                    pk[L + l] = s > 0 ? a[l * W + j] + div0(A->PY[l * F + f], s) - 1.0 : 0.0;
                    pk[2 * L + l] = s;
                    pk[3 * L + l] = T[l * W + j];
                    pk[4 * L + l] = U[l * W + j];
                }
                levels_tail(A, f, it + 1, pk, b[j], pk + L, pk + 2 * L, pk + 3 * L, pk + 4 * L, dev, a1 + j, a2 + j,
                            p1 + j, p2 + j, &lo[j], work);
                live[j] = 0;
                n_live--;
                continue;
            }
            /* advance */
            devold[j] = dev;
            for (Py_ssize_t l = 0; l < L; l++) {
                pS[l * W + j] = S[l * W + j];
                pT[l * W + j] = T[l * W + j];
                pU[l * W + j] = U[l * W + j];
                pa[l * W + j] = a[l * W + j];
                a[l * W + j] = na[l * W + j];
            }
            pb[j] = b[j];
            b[j] = nb[j];
        }
    }
    /* row weights of the results (numpy: Chunk._row_weights): prior * mu at the final coefficients, R's working
     * weights at the previous ones (the starting weights after one iteration), 0 for fits without a result */
    for (int j = 0; j < W; j++) bw[j] = j < nl ? A->beta[f0 + j] : 0.0;
    for (Py_ssize_t v = 0; v < V; v++)
        for (int j = 0; j < W; j++) {
            f1[v * W + j] = xexp(a1[A->lmap[v] * W + j]);
            f2[v * W + j] = xexp(a2[A->lmap[v] * W + j]);
        }
    pass_weights(M, V, tb, lpb, bw, f1, f2, x2);
    for (Py_ssize_t r = 0; r < MV; r++)
        for (int j = 0; j < nl; j++) A->wmu[r * F + f0 + j] = lo[j].written ? x2[r * W + j] : 0.0;
    for (int j = 0; j < W; j++) bw[j] = lo[j].pb;
    for (Py_ssize_t v = 0; v < V; v++)
        for (int j = 0; j < W; j++) {
            f1[v * W + j] = xexp(p1[A->lmap[v] * W + j]);
            f2[v * W + j] = xexp(p2[A->lmap[v] * W + j]);
        }
    pass_weights(M, V, tb, lpb, bw, f1, f2, x2);
    for (Py_ssize_t r = 0; r < MV; r++)
        for (int j = 0; j < nl; j++)
            A->wlast[r * F + f0 + j] = !lo[j].written ? 0.0 : lo[j].from_start ? x1[r * W + j] : x2[r * W + j];
    return 0;
}

/* ---- Python binding ---------------------------------------------------------------------------------- */

static int get(PyObject *o, Py_buffer *view, int writable, Py_ssize_t n_items, Py_ssize_t itemsize,
               const char *name) {
    if (PyObject_GetBuffer(o, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->itemsize != itemsize || view->len != n_items * itemsize) {
        PyErr_Format(PyExc_ValueError, "_irls.fit_trend: %s has the wrong size or type", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#define N_BUF 23

static PyObject *fit_trend(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t M, V, L, F;
    PyObject *o[N_BUF];
    if (!PyArg_ParseTuple(args, "nnnnOOOOOOOOOOOOOOOOOOOOOOO", &M, &V, &L, &F, &o[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15], &o[16],
                          &o[17], &o[18], &o[19], &o[20], &o[21], &o[22]))
        return NULL;
    if (M < 0 || V < 1 || L < 1 || F < 0) {
        PyErr_SetString(PyExc_ValueError, "_irls.fit_trend: bad dimensions");
        return NULL;
    }
    /* name, writable, items, itemsize */
    static const char *names[N_BUF] = {"t",      "lp",   "w0",   "wz0",   "lmap",  "PY",  "PYT",  "PYsum", "PYTsum",
                                       "Cy",     "PYoff", "devold", "tabs", "trend", "alpha", "beta", "conv", "ok",
                                       "Su",     "Tu",   "Uu",   "wmu",   "wlast"};
    Py_ssize_t MVF = M * V * F, LF = L * F;
    const Py_ssize_t items[N_BUF] = {MVF, MVF, MVF, MVF, V, LF, LF, F, F, F, F, F, F, F, LF, F, F, F, LF, LF, LF, MVF,
                                     MVF};
    const Py_ssize_t sizes[N_BUF] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 1, 8, 8, 1, 1, 8, 8, 8, 8, 8};
    const int writable[N_BUF] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    const int n_buf = N_BUF;
    Py_buffer views[N_BUF];
    int got = 0;
    for (; got < n_buf; got++)
        if (get(o[got], &views[got], writable[got], items[got], sizes[got], names[got]) < 0) break;
    PyObject *result = NULL;
    if (got == n_buf) {
        Args A = {.M = M, .V = V, .L = L, .F = F};
        A.t = views[0].buf;
        A.lp = views[1].buf;
        A.w0 = views[2].buf;
        A.wz0 = views[3].buf;
        A.lmap = views[4].buf;
        A.PY = views[5].buf;
        A.PYT = views[6].buf;
        A.PYsum = views[7].buf;
        A.PYTsum = views[8].buf;
        A.Cy = views[9].buf;
        A.PYoff = views[10].buf;
        A.devold = views[11].buf;
        A.tabs = views[12].buf;
        A.trend = views[13].buf;
        A.alpha = views[14].buf;
        A.beta = views[15].buf;
        A.conv = views[16].buf;
        A.ok = views[17].buf;
        A.Su = views[18].buf;
        A.Tu = views[19].buf;
        A.Uu = views[20].buf;
        A.wmu = views[21].buf;
        A.wlast = views[22].buf;
        int bad_map = 0;
        for (Py_ssize_t v = 0; v < V; v++) bad_map |= A.lmap[v] < 0 || A.lmap[v] >= L;
        if (bad_map) {
            PyErr_SetString(PyExc_ValueError, "_irls.fit_trend: lmap out of range");
        } else {
            Py_ssize_t MV = M * V;
            double *buf = malloc(sizeof(double) * (4 * MV * W + 7 * V * W + 15 * L * W + 9 * L));
            if (buf == NULL) {
                PyErr_NoMemory();
            } else {
                Py_BEGIN_ALLOW_THREADS;
                for (Py_ssize_t f0 = 0; f0 < F; f0 += W) fit_group(&A, f0, (int)(F - f0 < W ? F - f0 : W), buf);
                Py_END_ALLOW_THREADS;
                free(buf);
                result = Py_NewRef(Py_None);
            }
        }
    }
    for (int i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    return result;
}

CLONES static void exp_all(Py_ssize_t n, const double *restrict x, double *restrict out) {
    for (Py_ssize_t i = 0; i < n; i++) out[i] = xexp(x[i]);
}

static PyObject *exp_(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ox, *oo;
    Py_buffer x, out;
    if (!PyArg_ParseTuple(args, "OO", &ox, &oo)) return NULL;
    if (PyObject_GetBuffer(ox, &x, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    if (get(oo, &out, 1, x.len / 8, 8, "out") < 0 || x.itemsize != 8) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "_irls.exp: float64 buffers of one size");
        PyBuffer_Release(&x);
        return NULL;
    }
    exp_all(x.len / 8, x.buf, out.buf);
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return Py_NewRef(Py_None);
}

static PyMethodDef methods[] = {
    {"fit_trend", fit_trend, METH_VARARGS, "IRLS of the fits of a chunk with a trend (see _glm.Chunk._fit)."},
    {"exp", exp_, METH_VARARGS, "exp(x, out): the kernel's exp (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_irls", "Compiled IRLS kernel of dhnet.surveillance._glm.",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__irls(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", 1) < 0) Py_CLEAR(m);
    return m;
}
