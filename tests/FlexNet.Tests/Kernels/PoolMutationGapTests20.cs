using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>What the first whole mutation run of Kernels/Pool.cs showed untested: a plane of exactly int.MaxValue
/// elements, the global poolings' refusals and bounds, the first of tied maxima, indices outside their plane, the
/// overwriting max backward off its 2x2 fast path and on its double 2x2 path (a −0 gradient, odd sizes), the parallel
/// backward accumulating once, windows wholly in the padding, all −∞ windows with dilation, and the average backward of
/// a wide plane (rented scratch); each against loops written here.</summary>
[Trait("Category", "Kernels")]
public sealed class PoolMutationGapTests20
{
    [Fact]
    public void APlaneOfExactlyIntMaxValueElements_IsAccepted()
    {
        var g = new PoolGeometry(1, int.MaxValue, 1, 1, 1, 1, 0, 0);
        Assert.Equal(int.MaxValue, g.InPlane);
        Assert.Equal(int.MaxValue, g.OutPlane);
        var e = Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(2, 1 << 30, 1, 1, 1, 1, 0, 0));
        Assert.Equal("Pool: plane [H=2, W=1073741824] is too large for a span.", e.Message);
        // only the input plane is too large (stride 2 halves the output)
        e = Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(2, 1 << 30, 1, 2, 1, 2, 0, 0));
        Assert.Equal("Pool: plane [H=2, W=1073741824] is too large for a span.", e.Message);
    }

    public static TheoryData<string> GlobalOps() => new() { "GlobalAvgPoolForward", "GlobalAvgPoolBackward", "GlobalMaxPoolForward", "GlobalMaxPoolBackward" };

    /// <summary>Runs a global op on buffers of the given lengths: the plane buffer (x or gx), the per-plane one (y or gy)
    /// and the indices.</summary>
    private static void Global(string op, int planes, int size, int planeLength, int perPlane, int indices)
    {
        var a = new double[planeLength];
        var b = new double[perPlane];
        var i = new int[indices];
        switch (op)
        {
            case "GlobalAvgPoolForward": PoolKernels.GlobalAvgPoolForward<double>(a, planes, size, b); break;
            case "GlobalAvgPoolBackward": PoolKernels.GlobalAvgPoolBackward<double>(b, planes, size, a); break;
            case "GlobalMaxPoolForward": PoolKernels.GlobalMaxPoolForward<double>(a, planes, size, b, i); break;
            default: PoolKernels.GlobalMaxPoolBackward<double>(b, i, planes, size, a); break;
        }
    }

    [Theory]
    [MemberData(nameof(GlobalOps))]
    public void GlobalPooling_RefusesEachBadArgumentWhole_AndTakesExactLengths(string op)
    {
        string Refused(int planes, int size, int planeLength, int perPlane, int indices) =>
            Assert.Throws<ShapeMismatchException>(() => Global(op, planes, size, planeLength, perPlane, indices)).Message;
        bool max = op.StartsWith("GlobalMax", StringComparison.Ordinal);
        bool forward = op.EndsWith("Forward", StringComparison.Ordinal);
        string planeName = forward ? "x" : "gx", perName = forward ? "y" : "gy";
        Assert.Equal($"{op}: planes (-1) must be >= 0 and size (3) >= 1.", Refused(-1, 3, 6, 2, 2));
        Assert.Equal($"{op}: planes (2) must be >= 0 and size (0) >= 1.", Refused(2, 0, 6, 2, 2));
        Assert.Equal($"{op}: {planeName} has 5 elements, [2, 3] needs 6.", Refused(2, 3, 5, 2, 2));
        Assert.Equal($"{op}: {perName} has 1 elements, needs 2 (one per plane).", Refused(2, 3, 6, 1, 2));
        if (max) Assert.Equal($"{op}: indices has 1 elements, needs 2 (one per plane).", Refused(2, 3, 6, 2, 1));
        // exact lengths, longer ones, and no planes at all are accepted
        Global(op, 2, 3, 6, 2, 2);
        Global(op, 2, 3, 7, 3, 3);
        Global(op, 0, 3, 0, 0, 0);
    }

    [Fact]
    public void GlobalMax_TakesTheFirstOfTiedMaxima_AndRefusesAnIndexOutsideItsPlane()
    {
        double[] x = [1, 3, 3, 2, -1, 5, 0, 5];
        var y = new double[2];
        var idx = new int[2];
        PoolKernels.GlobalMaxPoolForward<double>(x, 2, 4, y, idx);
        Assert.Equal([3.0, 5.0], y);
        Assert.Equal([1, 1], idx);
        var gx = new double[8];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PoolKernels.GlobalMaxPoolBackward<double>([1.0, 1.0], [4, 0], 2, 4, gx));
        Assert.Equal("GlobalMaxPoolBackward: index 4 of plane 0 is outside the plane of 4 elements. (Parameter 'indices')", e.Message);
        Assert.All(gx, v => Assert.Equal(0.0, v));
        // index -1 (no element) is skipped
        PoolKernels.GlobalMaxPoolBackward<double>([1.0, 2.0], [-1, 3], 2, 4, gx);
        Assert.Equal([0.0, 0, 0, 0, 0, 0, 0, 2], gx);
    }

    [Fact]
    public void MaxBackward_RefusesAnIndexOneBeyondThePlane()
    {
        var g = new PoolGeometry(3, 3, 3, 3, 1, 1, 0, 0); // one output per plane: not the 2x2 path
        var gx = new double[18];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PoolKernels.MaxPool2dBackward<double>([1.0, 1.0], [9, 0], 2, g, gx));
        Assert.Equal("MaxPool2dBackward: index 9 at output 0 is outside the input plane of 9 elements. (Parameter 'idx')", e.Message);
    }

    private static double[] Random(int n, int seed) => PoolKernelsTests.Rand(new Random(seed), n);

    /// <summary>Scatter-add by loops: gx[p, idx] += gy (index −1 skipped), onto <paramref name="start"/>.</summary>
    private static double[] Scatter(double[] start, double[] gy, int[] idx, int planes, PoolGeometry g)
    {
        var gx = (double[])start.Clone();
        for (int p = 0; p < planes; p++)
            for (int o = 0; o < g.OutPlane; o++)
                if (idx[p * g.OutPlane + o] >= 0) gx[p * g.InPlane + idx[p * g.OutPlane + o]] += gy[p * g.OutPlane + o];
        return gx;
    }

    private static void AssertBits(double[] want, double[] got, string what)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(want[i]) == BitConverter.DoubleToInt64Bits(got[i]), $"{what}[{i}]: want {want[i]}, got {got[i]}");
    }

    /// <summary>Overwriting backward: a 3x3 window (the general path, serial), the double 2x2 path with odd sizes (the
    /// uncovered last row and column zeroed) and −0 gradients (0 + (−0) = +0, as clearing and adding gives), a 2x3 window
    /// at stride 2 (not the 2x2 path), and a parallel 3x3 case without overwrite (each gradient added once).</summary>
    [Theory]
    [InlineData(2, 7, 6, 3, 3, 1, 1, 1, true)]
    [InlineData(3, 7, 9, 2, 2, 2, 2, 0, true)]
    [InlineData(2, 8, 9, 2, 3, 2, 2, 0, true)]
    [InlineData(64, 32, 32, 3, 3, 1, 1, 1, false)]
    [InlineData(64, 32, 32, 3, 3, 1, 1, 1, true)]
    public void MaxBackward_MatchesClearAndScatter(int planes, int h, int w, int kh, int kw, int sh, int sw, int pad, bool overwrite)
    {
        var g = new PoolGeometry(h, w, kh, kw, sh, sw, pad, pad);
        var x = Random(planes * g.InPlane, 1);
        PoolKernelsTests.NaiveMax(x, planes, g, out _, out var idx);
        var gy = Random(planes * g.OutPlane, 2);
        for (int i = 0; i < gy.Length; i += 3) gy[i] = -0.0;
        var start = new double[planes * g.InPlane];
        Array.Fill(start, overwrite ? double.NaN : 1.0);
        var want = Scatter(overwrite ? new double[start.Length] : start, gy, idx, planes, g);
        var gx = (double[])start.Clone();
        PoolKernels.MaxPool2dBackward<double>(gy, idx, planes, g, gx, overwrite);
        AssertBits(want, gx, $"gx ({g}, overwrite {overwrite})");
    }

    /// <summary>Dilation 2 with padding 2: some windows have no input element in a row (index −1, −∞), and with every
    /// input −∞ each index is its window's first input element (PyTorch's rule), also where that is not the window's
    /// first position.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MaxForward_WindowsInThePaddingAndAllMinusInfinity_FollowTheIndexRule(bool minusInfinity)
    {
        foreach (var g in new[] { new PoolGeometry(1, 5, 2, 2, 1, 1, 1, 1, 2, 2), new PoolGeometry(5, 6, 3, 3, 1, 2, 2, 2, 2, 2) })
        {
            const int planes = 2;
            var x = Random(planes * g.InPlane, 3);
            if (minusInfinity) Array.Fill(x, double.NegativeInfinity);
            PoolKernelsTests.NaiveMax(x, planes, g, out var wantY, out var wantIdx);
            var y = new double[wantY.Length];
            var idx = new int[wantY.Length];
            PoolKernels.MaxPool2dForward<double>(x, planes, g, y, idx);
            Assert.Equal(wantIdx, idx);
            AssertBits(wantY, y, $"y ({g})");
            var yf = new float[wantY.Length];
            var idxf = new int[wantY.Length];
            PoolKernels.MaxPool2dForward<float>(x.Select(v => (float)v).ToArray(), planes, g, yf, idxf);
            Assert.Equal(wantIdx, idxf);
        }
    }

    /// <summary>The average backward of a plane wider than its stack scratch (W + kernel + outW &gt; 1024: rented).</summary>
    [Fact]
    public void AvgBackward_OfAWidePlane_SpreadsEachGradientOverItsWindow()
    {
        var g = new PoolGeometry(3, 700, 2, 3, 1, 1, 0, 1);
        const int planes = 2;
        var gy = Random(planes * g.OutPlane, 4);
        var want = new double[planes * g.InPlane];
        for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++)
                    for (int ki = 0; ki < 2; ki++)
                        for (int kj = 0; kj < 3; kj++)
                        {
                            int ih = oh + ki, iw = ow - 1 + kj;
                            if (iw >= 0 && iw < g.InW) want[p * g.InPlane + ih * g.InW + iw] += gy[(p * g.OutH + oh) * g.OutW + ow] / 6;
                        }
        var gx = new double[want.Length];
        PoolKernels.AvgPool2dBackward<double>(gy, planes, g, countIncludePad: true, divisorOverride: 0, gx);
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - gx[i]) <= 1e-12, $"gx[{i}]: want {want[i]}, got {gx[i]}");
    }

    /// <summary>2x2 windows at stride 2 in ceil mode over an odd height or an odd width: the last window row or column
    /// hangs over the plane, so the overwriting backward leaves its 2x2 fast path and still matches clearing and
    /// scattering.</summary>
    [Theory]
    [InlineData(5, 8, 3, 4)]
    [InlineData(6, 7, 3, 4)]
    public void MaxBackward_InCeilMode_LeavesTheTwoByTwoPath(int h, int w, int outH, int outW)
    {
        var g = new PoolGeometry(h, w, 2, 2, 2, 2, 0, 0, ceilMode: true);
        Assert.Equal((outH, outW), (g.OutH, g.OutW));
        const int planes = 2;
        var x = Random(planes * g.InPlane, 5);
        PoolKernelsTests.NaiveMax(x, planes, g, out var wantY, out var idx);
        var y = new double[wantY.Length];
        var got = new int[wantY.Length];
        PoolKernels.MaxPool2dForward<double>(x, planes, g, y, got);
        Assert.Equal(idx, got);
        var gy = Random(wantY.Length, 6);
        var gx = new double[planes * g.InPlane];
        Array.Fill(gx, double.NaN);
        PoolKernels.MaxPool2dBackward<double>(gy, idx, planes, g, gx, overwrite: true);
        AssertBits(Scatter(new double[gx.Length], gy, idx, planes, g), gx, $"gx in ceil mode ({g})");
    }

    [Fact]
    public void MaxBackward_OnTheTwoByTwoPath_NamesAnIndexOutsideItsWindow()
    {
        var g = new PoolGeometry(4, 4, 2, 2, 2, 2, 0, 0);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            PoolKernels.MaxPool2dBackward<double>([1.0, 1.0, 1.0, 1.0], [0, 0, 8, 10], 1, g, new double[16], overwrite: true));
        Assert.Equal($"MaxPool2dBackward: index 0 at output (0, 1) is not in its 2x2 window at 2 ({g}). (Parameter 'idx')", e.Message);
    }

    /// <summary>No planes at all: every kernel does nothing, with empty buffers.</summary>
    [Fact]
    public void NoPlanes_AreNothingToDo()
    {
        var g = new PoolGeometry(4, 4, 2, 2, 2, 2, 0, 0);
        PoolKernels.MaxPool2dForward<double>([], 0, g, [], []);
        PoolKernels.MaxPool2dBackward<double>([], [], 0, g, [], overwrite: true);
        PoolKernels.AvgPool2dForward<double>([], 0, g, true, 0, []);
        PoolKernels.AvgPool2dBackward<double>([], 0, g, true, 0, []);
    }
}
