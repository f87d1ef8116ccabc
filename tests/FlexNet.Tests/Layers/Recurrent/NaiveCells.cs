using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>
/// Independent step-by-step computations of the LAYERS.md B.3 equations in plain double loops (no tensor ops),
/// the oracles of the cell tests. Weights are flat row-major [out, in] arrays (the cells' layout); sequences are
/// x[t][n][i]. Each method runs t = 0..T−1 (or T−1..0) and returns y[t][n][·] plus the final state vectors.
/// </summary>
internal static class NaiveCells
{
    internal static double Sig(double v) => 1 / (1 + Math.Exp(-v));

    internal static double Act(string act, double v) => act switch
    {
        "tanh" => Math.Tanh(v),
        "relu" => Math.Max(v, 0),
        "sigmoid" => Sig(v),
        _ => v,
    };

    /// <summary>W[out, in]·v.</summary>
    internal static double[] Mv(double[] w, int rows, int cols, double[] v, int rowOffset = 0)
    {
        var r = new double[rows];
        for (int o = 0; o < rows; o++)
        {
            double s = 0;
            for (int i = 0; i < cols; i++) s += w[(rowOffset + o) * cols + i] * v[i];
            r[o] = s;
        }
        return r;
    }

    internal static double[] Zeros(int n) => new double[n];

    private static IEnumerable<int> Times(int steps, bool reverse)
    {
        for (int k = 0; k < steps; k++) yield return reverse ? steps - 1 - k : k;
    }

    internal static (double[][][] y, double[][] h, double[][] c) Lstm(double[][][] x, int hs, double[] wih, double[] whh, double[] bih,
        double[] bhh, double[]? ci, double[]? cf, double[]? co, double[][]? h0 = null, double[][]? c0 = null, bool reverse = false)
    {
        int steps = x.Length, batch = x[0].Length, inp = x[0][0].Length;
        var y = new double[steps][][];
        var h = new double[batch][];
        var c = new double[batch][];
        for (int n = 0; n < batch; n++) { h[n] = h0?[n] ?? Zeros(hs); c[n] = c0?[n] ?? Zeros(hs); }
        foreach (int t in Times(steps, reverse))
        {
            y[t] = new double[batch][];
            for (int n = 0; n < batch; n++)
            {
                var a = Mv(wih, 4 * hs, inp, x[t][n]);
                var ah = Mv(whh, 4 * hs, hs, h[n]);
                var hn = new double[hs];
                var cn = new double[hs];
                for (int u = 0; u < hs; u++)
                {
                    double ai = a[u] + ah[u] + bih[u] + bhh[u];
                    double af = a[hs + u] + ah[hs + u] + bih[hs + u] + bhh[hs + u];
                    double ag = a[2 * hs + u] + ah[2 * hs + u] + bih[2 * hs + u] + bhh[2 * hs + u];
                    double ao = a[3 * hs + u] + ah[3 * hs + u] + bih[3 * hs + u] + bhh[3 * hs + u];
                    double ig = Sig(ai + (ci is null ? 0 : c[n][u] * ci[u]));
                    double fg = Sig(af + (cf is null ? 0 : c[n][u] * cf[u]));
                    cn[u] = fg * c[n][u] + ig * Math.Tanh(ag);
                    double og = Sig(ao + (co is null ? 0 : cn[u] * co[u]));
                    hn[u] = og * Math.Tanh(cn[u]);
                }
                h[n] = hn;
                c[n] = cn;
                y[t][n] = hn;
            }
        }
        return (y, h, c);
    }

    /// <summary>RRNN; rate: "matrix" (xr, r), "vector" (r), "fixed" (z given).</summary>
    internal static (double[][][] y, double[][] h) Rrnn(double[][][] x, int hs, string act, string rate, double[] xh, double[] hh,
        double[] b, double[]? r, double[]? xr, double[]? fixedZ, double[][]? h0 = null, bool reverse = false)
    {
        int steps = x.Length, batch = x[0].Length, inp = x[0][0].Length;
        var y = new double[steps][][];
        var h = new double[batch][];
        for (int n = 0; n < batch; n++) h[n] = h0?[n] ?? Zeros(hs);
        foreach (int t in Times(steps, reverse))
        {
            y[t] = new double[batch][];
            for (int n = 0; n < batch; n++)
            {
                var px = Mv(xh, hs, inp, x[t][n]);
                var ph = Mv(hh, hs, hs, h[n]);
                var pr = rate == "matrix" ? Mv(xr!, hs, inp, x[t][n]) : null;
                var hn = new double[hs];
                for (int u = 0; u < hs; u++)
                {
                    double hid = Act(act, px[u] + b[u] + ph[u]);
                    double z = rate switch { "matrix" => Sig(pr![u] + r![u]), "vector" => Sig(r![u]), _ => fixedZ![u] };
                    hn[u] = (1 - z) * h[n][u] + z * hid;
                }
                h[n] = hn;
                y[t][n] = hn;
            }
        }
        return (y, h);
    }

    internal static (double[][][] y, double[][] h) Mut1(double[][][] x, int hs, double[] xh, double[] xr, double[] xz, double[] hh,
        double[] hr, double[] bh, double[] br, double[] bz, double[][]? h0 = null, bool reverse = false)
    {
        int steps = x.Length, batch = x[0].Length, inp = x[0][0].Length;
        var y = new double[steps][][];
        var h = new double[batch][];
        for (int n = 0; n < batch; n++) h[n] = h0?[n] ?? Zeros(hs);
        foreach (int t in Times(steps, reverse))
        {
            y[t] = new double[batch][];
            for (int n = 0; n < batch; n++)
            {
                var ax = Mv(xh, hs, inp, x[t][n]);
                var rx = Mv(xr, hs, inp, x[t][n]);
                var zx = Mv(xz, hs, inp, x[t][n]);
                var rh = Mv(hr, hs, hs, h[n]);
                var rgate = new double[hs];
                for (int u = 0; u < hs; u++) rgate[u] = Sig(rx[u] + br[u] + rh[u]) * h[n][u];
                var hr2 = Mv(hh, hs, hs, rgate);
                var hn = new double[hs];
                for (int u = 0; u < hs; u++)
                {
                    double z = Sig(zx[u] + bz[u]);
                    double pre = Math.Tanh(ax[u] + bh[u]) + hr2[u];
                    hn[u] = (1 - z) * h[n][u] + z * Math.Tanh(pre);
                }
                h[n] = hn;
                y[t][n] = hn;
            }
        }
        return (y, h);
    }

    internal static (double[][][] y, double[][] h) Mrnn(double[][][] x, int hs, int factors, string act, double[] xh, double[] xf,
        double[] hf, double[] fh, double[] b, double[][]? h0 = null, bool reverse = false)
    {
        int steps = x.Length, batch = x[0].Length, inp = x[0][0].Length;
        var y = new double[steps][][];
        var h = new double[batch][];
        for (int n = 0; n < batch; n++) h[n] = h0?[n] ?? Zeros(hs);
        foreach (int t in Times(steps, reverse))
        {
            y[t] = new double[batch][];
            for (int n = 0; n < batch; n++)
            {
                var f = Mv(xf, factors, inp, x[t][n]);
                var hfv = Mv(hf, factors, hs, h[n]);
                for (int k = 0; k < factors; k++) f[k] *= hfv[k];
                var rec = Mv(fh, hs, factors, f);
                var px = Mv(xh, hs, inp, x[t][n]);
                var hn = new double[hs];
                for (int u = 0; u < hs; u++) hn[u] = Act(act, px[u] + b[u] + rec[u]);
                h[n] = hn;
                y[t][n] = hn;
            }
        }
        return (y, h);
    }

    /// <summary>SCRN; w rows [0, H) = W_xh, [H, 2H) = W_xs; rho the per-unit rate (already σ(r) or fixed).</summary>
    internal static (double[][][] y, double[][] h, double[][] s) Scrn(double[][][] x, int hs, string act, double[] w, double[] sh,
        double[] hh, double[] ho, double[] so, double[] b, double[] rho, double[][]? h0 = null, double[][]? s0 = null, bool reverse = false)
    {
        int steps = x.Length, batch = x[0].Length, inp = x[0][0].Length;
        var y = new double[steps][][];
        var h = new double[batch][];
        var s = new double[batch][];
        for (int n = 0; n < batch; n++) { h[n] = h0?[n] ?? Zeros(hs); s[n] = s0?[n] ?? Zeros(hs); }
        foreach (int t in Times(steps, reverse))
        {
            y[t] = new double[batch][];
            for (int n = 0; n < batch; n++)
            {
                var xs = Mv(w, hs, inp, x[t][n], rowOffset: hs);
                var xhv = Mv(w, hs, inp, x[t][n]);
                var sn = new double[hs];
                for (int u = 0; u < hs; u++) sn[u] = (1 - rho[u]) * s[n][u] + rho[u] * xs[u];
                var hhv = Mv(hh, hs, hs, h[n]);
                var shv = Mv(sh, hs, hs, sn);
                var hn = new double[hs];
                for (int u = 0; u < hs; u++) hn[u] = Act(act, xhv[u] + hhv[u] + shv[u]);
                var hov = Mv(ho, hs, hs, hn);
                var sov = Mv(so, hs, hs, sn);
                var o = new double[hs];
                for (int u = 0; u < hs; u++) o[u] = hov[u] + sov[u] + b[u];
                h[n] = hn;
                s[n] = sn;
                y[t][n] = o;
            }
        }
        return (y, h, s);
    }

    /// <summary>Clockwork with periods sorted ascending; module of unit u is u / (H / K).</summary>
    internal static (double[][][] y, double[][] h, double[][] pre) Clockwork(double[][][] x, int hs, int[] periods, string act,
        double[] xh, double[] hh, double[] b, double[][]? h0 = null, double[][]? pre0 = null, bool reverse = false)
    {
        int steps = x.Length, batch = x[0].Length, inp = x[0][0].Length;
        var sorted = periods.OrderBy(p => p).ToArray();
        int block = hs / sorted.Length;
        var y = new double[steps][][];
        var h = new double[batch][];
        var pre = new double[batch][];
        for (int n = 0; n < batch; n++) { h[n] = h0?[n] ?? Zeros(hs); pre[n] = pre0?[n] ?? Zeros(hs); }
        foreach (int t in Times(steps, reverse))
        {
            y[t] = new double[batch][];
            for (int n = 0; n < batch; n++)
            {
                var px = Mv(xh, hs, inp, x[t][n]);
                var pn = new double[hs];
                var hn = new double[hs];
                for (int u = 0; u < hs; u++)
                {
                    int module = u / block;
                    if (t % sorted[module] != 0) { pn[u] = pre[n][u]; }
                    else
                    {
                        double rec = 0;
                        // source units from the same or a slower module (index >= target's) feed the target
                        for (int src = module * block; src < hs; src++) rec += hh[u * hs + src] * h[n][src];
                        pn[u] = px[u] + b[u] + rec;
                    }
                    hn[u] = Act(act, pn[u]);
                }
                h[n] = hn;
                pre[n] = pn;
                y[t][n] = hn;
            }
        }
        return (y, h, pre);
    }

    // ---- conversions ----

    internal static double[][][] Seq(Tensor x)
    {
        int steps = x.Shape[0], batch = x.Shape[1], f = x.Shape[2];
        var v = x.ToDoubleArray();
        var r = new double[steps][][];
        for (int t = 0; t < steps; t++)
        {
            r[t] = new double[batch][];
            for (int n = 0; n < batch; n++) r[t][n] = v.AsSpan((t * batch + n) * f, f).ToArray();
        }
        return r;
    }

    internal static double[][] Rows(Tensor m)
    {
        int rows = m.Shape[0], f = m.Shape[1];
        var v = m.ToDoubleArray();
        var r = new double[rows][];
        for (int n = 0; n < rows; n++) r[n] = v.AsSpan(n * f, f).ToArray();
        return r;
    }

    internal static double[] Flat(double[][][] y) => y.SelectMany(a => a.SelectMany(b => b)).ToArray();

    internal static double[] Flat(double[][] y) => y.SelectMany(a => a).ToArray();
}
