namespace FlexNet.Tests.Testing;

/// <summary>torch.nn.LSTM written as loops, the independent oracle of the LSTM tests (gates i, f, g, o; W [4H, F],
/// U [4H, H], two biases).</summary>
internal static class LstmLoops
{
    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>Every h over a batch-first x [N, T, F] from h0, c0 [N, H] (null: zeros): [N, T, H], flattened.</summary>
    internal static double[] EveryH(double[] x, int n, int t, int f, int h, double[] wih, double[] whh, double[] bih, double[] bhh,
                                    double[]? h0 = null, double[]? c0 = null)
    {
        var hs = h0 is null ? new double[n * h] : (double[])h0.Clone();
        var cs = c0 is null ? new double[n * h] : (double[])c0.Clone();
        var y = new double[n * t * h];
        for (int s = 0; s < t; s++)
        {
            var hn = new double[n * h];
            for (int b = 0; b < n; b++)
            {
                var gate = new double[4 * h];
                for (int r = 0; r < 4 * h; r++)
                {
                    double z = bih[r] + bhh[r];
                    for (int k = 0; k < f; k++) z += wih[r * f + k] * x[(b * t + s) * f + k];
                    for (int k = 0; k < h; k++) z += whh[r * h + k] * hs[b * h + k];
                    gate[r] = z;
                }
                for (int j = 0; j < h; j++)
                {
                    double i = Sigmoid(gate[j]), fg = Sigmoid(gate[h + j]), g = Math.Tanh(gate[2 * h + j]), o = Sigmoid(gate[3 * h + j]);
                    cs[b * h + j] = fg * cs[b * h + j] + i * g;
                    hn[b * h + j] = o * Math.Tanh(cs[b * h + j]);
                    y[(b * t + s) * h + j] = hn[b * h + j];
                }
            }
            hs = hn;
        }
        return y;
    }

    /// <summary>The last h [N, H] of <see cref="EveryH"/>.</summary>
    internal static double[] LastH(double[] x, int n, int t, int f, int h, double[] wih, double[] whh, double[] bih, double[] bhh)
    {
        var every = EveryH(x, n, t, f, h, wih, whh, bih, bhh);
        var last = new double[n * h];
        for (int b = 0; b < n; b++) Array.Copy(every, (b * t + t - 1) * h, last, b * h, h);
        return last;
    }
}
