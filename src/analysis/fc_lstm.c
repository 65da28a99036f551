/*
 * fc_lstm.c: a small LSTM forecaster trained online, in plain C.
 *
 * One layer of AN_LSTM_H cells (Hochreiter & Schmidhuber 1997, with the
 * forget gate of Gers, Schmidhuber & Cummins 2000):
 *
 *   [i f g o] = [sig sig tanh sig](W [u_s; h_{s-1}; 1])
 *   c_s = f c_{s-1} + i g,   h_s = o tanh(c_s)
 *   z^_{s+1} = z_s + v . h_s + v0
 *
 on standardised values z (EW mean and variance), each step's input
 * u_s being z_s and, when a period m is known, the value one period
 * before the step's target. The network predicts the change from the
 * last value, so an untrained network is the naive forecast. It runs
 * statefully: one cell step per point.
 *
 * Training: every AN_LSTM_EVERY points, one Adam step (Kingma & Ba 2015)
 * on the mean squared one-step error over the last AN_LSTM_T points, by
 * truncated backpropagation through time (Williams & Peng 1990) from the
 * state stored before the window, gradient norm clipped at 1 (Pascanu,
 * Mikolov & Bengio 2013). Forecasts beyond one step feed predictions
 * back as inputs, clipped to +-LSTM_ZMAX standard deviations so a
 * runaway rollout stays bounded. Interval: one-step error variance
 * (EWMA) times the horizon, a random walk's growth.
 *
 * Cost per point: one cell step, 4H (IN + H + 1) = 352 multiply-adds
 * and 5H = 40 transcendentals, plus every fourth point a window of T
 * steps forward and backward (about 3T cell steps), so about 13 cell
 * steps per point.
 */
#include "analysis/fc_models.h"

#include "base/err.h"

#include <math.h>
#include <string.h>

/* Adam: the paper's defaults, with a larger step (0.01) since every
 * point is seen once. */
#define LSTM_LR 0.01
#define LSTM_B1 0.9
#define LSTM_B2 0.999
#define LSTM_EPS 1e-8
#define LSTM_CLIP 1.0
/* Initial weights uniform in +-0.1; forget-gate bias 1 (Jozefowicz,
 * Zaremba & Sutskever 2015). */
#define LSTM_INIT 0.1
#define LSTM_FORGET_BIAS 1.0
/* Standardisation memory: plain averages at first, then weight 0.005
 * (about 200 points). */
#define LSTM_STD_RATE 0.005
/* One-step error variance memory: weight 0.05. */
#define LSTM_VAR_RATE 0.05
#define LSTM_LEVEL 0.95
#define LSTM_SEED 0x5eed1234abcdULL
/* Rolled-out predictions kept for the lagged input of later steps. */
#define LSTM_ROLL 256
/* Bound on rolled-out forecasts, in standard deviations of the EW
 * distribution: far beyond anything the network was trained on. */
#define LSTM_ZMAX 6.0
#define LSTM_SLOTS (AN_LSTM_T + 2)

#define WOUT (AN_LSTM_G * AN_LSTM_W) /* read-out starts here */

static double sigm(double a)
{
	return 1 / (1 + exp(-a));
}

static double uniform(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

void an_lstm_init(an_lstm_t *l, const an_fc_params_t *p)
{
	memset(l, 0, sizeof(*l));
	double lv = p->level > 0 && p->level < 1 ? p->level : LSTM_LEVEL;
	l->z = an_norm_quantile(0.5 + lv / 2);
	l->m = an_fc_period(p, AN_LSTM_HIST - AN_LSTM_T - 1);
	l->seed = LSTM_SEED;
	for (size_t i = 0; i < AN_LSTM_NPARAM; i++)
		l->w[i] = (2 * uniform(&l->seed) - 1) * LSTM_INIT;
	for (int k = 0; k < AN_LSTM_H; k++)
		l->w[(AN_LSTM_H + k) * AN_LSTM_W + AN_LSTM_W - 1] =
			LSTM_FORGET_BIAS;
}

static double hist_at(const an_lstm_t *l, uint64_t t)
{
	return l->hist[t % AN_LSTM_HIST];
}

/* The activations of one window, kept for backpropagation. */
typedef struct lstm_trace {
	double in[AN_LSTM_T][AN_LSTM_W];
	double gate[AN_LSTM_T][AN_LSTM_G]; /* i f g o after nonlinearity */
	double c[AN_LSTM_T + 1][AN_LSTM_H]; /* c[0]: zero state */
	double h[AN_LSTM_T][AN_LSTM_H];
	double y[AN_LSTM_T];
} lstm_trace_t;

/* One cell step: in (inputs, h_{s-1}, 1) and c_prev to gates, c, h;
 * returns the prediction for the next z given the current z0. */
static double cell(const double *w, const double *in, const double *c_prev,
		   double *gate, double *c, double *h, double z0)
{
	for (int r = 0; r < AN_LSTM_G; r++) {
		const double *row = w + r * AN_LSTM_W;
		double a = 0;
		for (int k = 0; k < AN_LSTM_W; k++)
			a += row[k] * in[k];
		gate[r] = (r >= 2 * AN_LSTM_H && r < 3 * AN_LSTM_H) ? tanh(a)
								     : sigm(a);
	}
	double y = z0 + w[WOUT + AN_LSTM_H];
	for (int k = 0; k < AN_LSTM_H; k++) {
		double ig = gate[k], fg = gate[AN_LSTM_H + k];
		double gg = gate[2 * AN_LSTM_H + k], og = gate[3 * AN_LSTM_H + k];
		c[k] = fg * c_prev[k] + ig * gg;
		h[k] = og * tanh(c[k]);
		y += w[WOUT + k] * h[k];
	}
	return y;
}

/* The lagged input for a step whose target is time t. */
static double lag_input(const an_lstm_t *l, uint64_t target)
{
	if (!l->m || target < l->m)
		return 0;
	return hist_at(l, target - l->m);
}

static double clampz(double z)
{
	return z > LSTM_ZMAX ? LSTM_ZMAX : z < -LSTM_ZMAX ? -LSTM_ZMAX : z;
}

/* Forward pass over the AN_LSTM_T points before the newest (t0 .. t - 1,
 * targets t0 + 1 .. t), from the state stored after point t0 - 1. */
static void forward(const an_lstm_t *l, lstm_trace_t *tr)
{
	uint64_t t0 = l->n - 1 - AN_LSTM_T;
	memcpy(tr->c[0], l->cs[(t0 - 1) % LSTM_SLOTS], sizeof(tr->c[0]));
	double hprev[AN_LSTM_H];
	memcpy(hprev, l->hs[(t0 - 1) % LSTM_SLOTS], sizeof(hprev));
	for (int s = 0; s < AN_LSTM_T; s++) {
		double *in = tr->in[s];
		double z0 = hist_at(l, t0 + (uint64_t)s);
		in[0] = z0;
		in[1] = lag_input(l, t0 + (uint64_t)s + 1);
		memcpy(in + AN_LSTM_IN, hprev, sizeof(hprev));
		in[AN_LSTM_W - 1] = 1;
		tr->y[s] = cell(l->w, in, tr->c[s], tr->gate[s], tr->c[s + 1],
				tr->h[s], z0);
		memcpy(hprev, tr->h[s], sizeof(hprev));
	}
}

/* Backpropagation through the window and one Adam step. */
static void train(an_lstm_t *l)
{
	lstm_trace_t tr;
	forward(l, &tr);
	double g[AN_LSTM_NPARAM] = {0};
	double dh_next[AN_LSTM_H] = {0}, dc_next[AN_LSTM_H] = {0};
	uint64_t t0 = l->n - 1 - AN_LSTM_T;
	const double norm = 1.0 / AN_LSTM_T;
	for (int s = AN_LSTM_T - 1; s >= 0; s--) {
		double dy = (tr.y[s] - hist_at(l, t0 + (uint64_t)s + 1)) * norm;
		g[WOUT + AN_LSTM_H] += dy;
		double da[AN_LSTM_G];
		for (int k = 0; k < AN_LSTM_H; k++) {
			g[WOUT + k] += dy * tr.h[s][k];
			double dh = dy * l->w[WOUT + k] + dh_next[k];
			double ig = tr.gate[s][k], fg = tr.gate[s][AN_LSTM_H + k];
			double gg = tr.gate[s][2 * AN_LSTM_H + k];
			double og = tr.gate[s][3 * AN_LSTM_H + k];
			double tc = tanh(tr.c[s + 1][k]);
			double dc = dh * og * (1 - tc * tc) + dc_next[k];
			da[k] = dc * gg * ig * (1 - ig);
			da[AN_LSTM_H + k] = dc * tr.c[s][k] * fg * (1 - fg);
			da[2 * AN_LSTM_H + k] = dc * ig * (1 - gg * gg);
			da[3 * AN_LSTM_H + k] = dh * tc * og * (1 - og);
			dc_next[k] = dc * fg;
		}
		for (int k = 0; k < AN_LSTM_H; k++)
			dh_next[k] = 0;
		for (int r = 0; r < AN_LSTM_G; r++) {
			double *gr = g + r * AN_LSTM_W;
			const double *wr = l->w + r * AN_LSTM_W;
			for (int k = 0; k < AN_LSTM_W; k++)
				gr[k] += da[r] * tr.in[s][k];
			for (int k = 0; k < AN_LSTM_H; k++)
				dh_next[k] += wr[AN_LSTM_IN + k] * da[r];
		}
	}
	double gn = 0;
	for (size_t i = 0; i < AN_LSTM_NPARAM; i++)
		gn += g[i] * g[i];
	gn = sqrt(gn);
	if (!isfinite(gn))
		return;
	double clip = gn > LSTM_CLIP ? LSTM_CLIP / gn : 1;
	l->steps++;
	double b1t = 1 - pow(LSTM_B1, (double)l->steps);
	double b2t = 1 - pow(LSTM_B2, (double)l->steps);
	for (size_t i = 0; i < AN_LSTM_NPARAM; i++) {
		double gi = g[i] * clip;
		l->adam_m[i] = LSTM_B1 * l->adam_m[i] + (1 - LSTM_B1) * gi;
		l->adam_v[i] = LSTM_B2 * l->adam_v[i] + (1 - LSTM_B2) * gi * gi;
		double mh = l->adam_m[i] / b1t, vh = l->adam_v[i] / b2t;
		l->w[i] -= LSTM_LR * mh / (sqrt(vh) + LSTM_EPS);
	}
}

static double std_sd(const an_lstm_t *l)
{
	double sd = sqrt(l->var);
	return sd > 0 ? sd : fabs(l->mean) * 1e-3 + 1e-9;
}

void an_lstm_update(an_lstm_t *l, double x)
{
	if (!isfinite(x))
		return;
	if (l->n > 0) {
		double e = x - (l->mean + std_sd(l) * l->pred);
		l->resid_var = l->n == 1 ? e * e
					 : (1 - LSTM_VAR_RATE) * l->resid_var +
						   LSTM_VAR_RATE * e * e;
	}
	/* Standardise with the statistics before x, then learn them. */
	double rate = l->n + 1 < 1 / LSTM_STD_RATE ? 1.0 / (double)(l->n + 1)
						   : LSTM_STD_RATE;
	if (l->n == 0) {
		l->mean = x;
		l->var = 0;
	}
	uint64_t t = l->n;
	double z = (x - l->mean) / std_sd(l);
	l->hist[t % AN_LSTM_HIST] = z;
	double d = x - l->mean;
	l->mean += rate * d;
	l->var = (1 - rate) * (l->var + rate * d * d);
	/* One stateful step: from the state after t - 1 to after t. */
	double in[AN_LSTM_W], gate[AN_LSTM_G], c[AN_LSTM_H];
	in[0] = z;
	in[1] = lag_input(l, t + 1);
	memcpy(in + AN_LSTM_IN, l->h, sizeof(l->h));
	in[AN_LSTM_W - 1] = 1;
	double y = cell(l->w, in, l->c, gate, c, l->h, z);
	memcpy(l->c, c, sizeof(c));
	l->pred = isfinite(y) ? clampz(y) : z;
	memcpy(l->hs[t % LSTM_SLOTS], l->h, sizeof(l->h));
	memcpy(l->cs[t % LSTM_SLOTS], l->c, sizeof(l->c));
	l->n++;
	if (l->n > AN_LSTM_T + 1 && l->n % AN_LSTM_EVERY == 0)
		train(l);
}

int an_lstm_predict(const an_lstm_t *l, int steps, an_forecast_t *out)
{
	if (l->n < 2 || steps < 1)
		return ERR_AGAIN;
	double zhat = l->pred;
	double c[AN_LSTM_H], h[AN_LSTM_H], gate[AN_LSTM_G], in[AN_LSTM_W];
	memcpy(c, l->c, sizeof(c));
	memcpy(h, l->h, sizeof(h));
	double roll[LSTM_ROLL];
	uint64_t last = l->n - 1; /* newest known time */
	roll[0] = zhat;           /* prediction for last + 1 */
	for (int k = 2; k <= steps; k++) {
		uint64_t target = last + (uint64_t)k;
		double z0 = zhat;
		in[0] = z0;
		in[1] = 0;
		if (l->m && target >= l->m) {
			uint64_t lt = target - l->m;
			if (lt <= last)
				in[1] = hist_at(l, lt);
			else if (lt - last - 1 < LSTM_ROLL)
				in[1] = roll[lt - last - 1];
			else
				in[1] = zhat;
		}
		memcpy(in + AN_LSTM_IN, h, sizeof(h));
		in[AN_LSTM_W - 1] = 1;
		double cn[AN_LSTM_H];
		zhat = cell(l->w, in, c, gate, cn, h, z0);
		memcpy(c, cn, sizeof(c));
		zhat = isfinite(zhat) ? clampz(zhat) : z0;
		if (k - 1 < LSTM_ROLL)
			roll[k - 1] = zhat;
	}
	out->mean = l->mean + std_sd(l) * zhat;
	double sd = sqrt(l->resid_var * steps);
	out->lo = out->mean - l->z * sd;
	out->hi = out->mean + l->z * sd;
	return 0;
}
