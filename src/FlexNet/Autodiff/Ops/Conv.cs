// Over 400 lines: conv2d and its adjoint (transposed conv2d) share one geometry, the im2col/GEMM jobs and the
// batch-chunked backward with its scratch; 15 of the lines are Stryker comments on memory-only mutants.
using System.Numerics;
using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Geometry of a 2-d convolution over one image (PyTorch semantics).</summary>
internal readonly record struct ConvGeom(int C, int H, int W, int O, int Kh, int Kw, int Sh, int Sw,
    int Pt, int Pl, int Pb, int Pr, int Dh, int Dw, int OutH, int OutW)
{
    internal int K => C * Kh * Kw;

    internal int P => OutH * OutW;
}

/// <summary>conv2d through im2col + GEMM, and transposed conv2d as its adjoint (col2im of Wᵀ·x).</summary>
internal static class Conv
{
    internal static Tensor Conv2d(Tensor x, Tensor w, Tensor? b, (int h, int w) stride, Padding pad, (int h, int w) dil)
    {
        x.RequireFloat("Conv2d");
        if (x.Rank != 4 || w.Rank != 4 || x.DType != w.DType || x.Shape[1] != w.Shape[1])
            throw new ShapeMismatchException($"Conv2d: input {ShapeUtil.Format(x.Shape)} ([N, C, H, W]) does not fit weight {ShapeUtil.Format(w.Shape)} ([O, C, kh, kw]) (same dtype and C).");
        CheckBias("Conv2d", b, w.Shape[0], w.DType);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3], o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        Positive("Conv2d", stride, dil);
        var (pt, pb) = pad.IsSame ? Padding.SameAmounts(h, kh, stride.h, dil.h) : (pad.Top, pad.Bottom);
        var (pl, pr) = pad.IsSame ? Padding.SameAmounts(wd, kw, stride.w, dil.w) : (pad.Left, pad.Right);
        int oh = ConvKernels.ConvOutSize(h, kh, stride.h, pt, pb, dil.h);
        int ow = ConvKernels.ConvOutSize(wd, kw, stride.w, pl, pr, dil.w);
        if (oh < 1 || ow < 1)
            throw new ShapeMismatchException($"Conv2d: input {ShapeUtil.Format(x.Shape)} with kernel {kh}x{kw}, stride {stride}, padding {pad}, dilation {dil} gives an empty output ({oh}x{ow}).");
        var g = new ConvGeom(c, h, wd, o, kh, kw, stride.h, stride.w, pt, pl, pb, pr, dil.h, dil.w, oh, ow);
        var xc = x.Contiguous();
        var wc = w.Contiguous();
        var y = Tensor.Empty([n, o, oh, ow], x.DType);
        // the column matrix of each image lives only in a per-thread scratch (L2-sized), never for the whole batch:
        // backward rebuilds it from the saved input, which costs less than writing and re-reading [N, K, P]
        if (x.DType == DType.Float32) Forward<float>(xc.F, wc.F, (b is null ? default : b.Contiguous().F), y.F, n, g);
        else Forward<double>(xc.D, wc.D, (b is null ? default : b.Contiguous().D), y.D, n, g);
        if (Autograd.ShouldRecord([x, w, b ?? x]))
            y.MarkRecorded(new Conv2dBackward(x, w, b, xc, wc, g));
        return y;
    }

    private static void CheckBias(string op, Tensor? b, int channels, DType dtype)
    {
        if (b is not null && (b.Rank != 1 || b.Shape[0] != channels || b.DType != dtype))
            throw new ShapeMismatchException($"{op}: bias {ShapeUtil.Format(b.Shape)} ({b.DType}) must be [{channels}] ({dtype}).");
    }

    private static void Positive(string op, (int h, int w) stride, (int h, int w) dil)
    {
        if (stride.h < 1 || stride.w < 1 || dil.h < 1 || dil.w < 1)
            throw new ArgumentOutOfRangeException(nameof(stride), $"{op}: stride {stride} and dilation {dil} must be >= 1.");
    }

    private static unsafe void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y, int n, ConvGeom g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // images are independent: run them in parallel (fixed chunks, so results never depend on the core count)
        // the bias is added per image while its output is still in cache (not in a pass over the whole batch)
        // an empty span pins as a null pointer, so pb is null without a bias
        fixed (T* px = x, pw = w, py = y, pb = b)
            // Stryker disable once Arithmetic: the work estimate only decides how many threads share the images, not what each computes
            RowParallel.For(new ForwardJob<T>(px, pw, py, pb, g), n, (long)g.K * g.P * (g.O + 1));
    }

    /// <summary>Forward of images [start, end): cols = im2col(x[i]) (pooled scratch); y[i] [O, P] = W [O, K] · cols [K, P]
    /// (+ b[o] on each output plane).</summary>
    private readonly unsafe struct ForwardJob<T>(T* x, T* w, T* y, T* bias, ConvGeom g) : IRowJob
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            int imgIn = g.C * g.H * g.W, colsLen = g.K * g.P, imgOut = g.O * g.P;
            var wSpan = new ReadOnlySpan<T>(w, g.O * g.K);
            var col = ColumnScratch<T>.Get(colsLen);
            for (int i = start; i < end; i++)
            {
                ConvKernels.Im2Col(new ReadOnlySpan<T>(x + (long)i * imgIn, imgIn), g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, col);
                var yi = new Span<T>(y + (long)i * imgOut, imgOut);
                GemmT.Run(false, false, g.O, g.P, g.K, wSpan, g.K, col, g.P, false, yi, g.P);
                if (bias != null) ConvKernels.AddChannelBias<T>(yi, new ReadOnlySpan<T>(bias, g.O), 1, g.O, g.P);
            }
        }
    }

    /// <summary>Input gradient of images [start, end): dcols = Wᵀ · gy[i]; dx[i] += col2im(dcols), with pooled scratch.</summary>
    private readonly unsafe struct InputGradJob<T>(T* gy, T* w, T* gx, ConvGeom g) : IRowJob
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            int imgIn = g.C * g.H * g.W, colsLen = g.K * g.P, imgOut = g.O * g.P;
            T[] scratch = System.Buffers.ArrayPool<T>.Shared.Rent(colsLen);
            try
            {
                var wSpan = new ReadOnlySpan<T>(w, g.O * g.K);
                var dcols = scratch.AsSpan(0, colsLen);
                for (int i = start; i < end; i++)
                {
                    GemmT.Run(true, false, g.K, g.P, g.O, wSpan, g.K, new ReadOnlySpan<T>(gy + (long)i * imgOut, imgOut), g.P, false, dcols, g.P);
                    ConvKernels.Col2Im<T>(dcols, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, new Span<T>(gx + (long)i * imgIn, imgIn));
                }
            }
            finally
            {
                // Stryker disable once Statement: memory only: a scratch not given back is collected, and the next Rent makes a new one
                System.Buffers.ArrayPool<T>.Shared.Return(scratch);
            }
        }
    }

    private sealed class Conv2dBackward(Tensor x, Tensor w, Tensor? b, Tensor xc, Tensor wc, ConvGeom g) : Node(x, w, b)
    {
        private Tensor? _x = xc, _w = wc;
        private readonly int _n = x.Shape[0];
        private readonly int[] _xShape = x.ShapeArray, _wShape = w.ShapeArray;

        protected internal override void Backward(Tensor gy)
        {
            var g2 = gy.Contiguous();
            Tensor? gx = null, gw = null, gb = null;
            if (NeedsGrad(0)) gx = Tensor.Zeros(_xShape, gy.DType);
            if (NeedsGrad(1)) gw = Tensor.Zeros(_wShape, gy.DType);
            if (NeedsGrad(2)) gb = Tensor.Zeros([g.O], gy.DType);
            if (gy.DType == DType.Float32)
                Grads<float>(g2.F, _w!.F, _x!.F, gx is null ? default : gx.F, gw is null ? default : gw.F, gb is null ? default : gb.F, _n, g);
            else
                Grads<double>(g2.D, _w!.D, _x!.D, gx is null ? default : gx.D, gw is null ? default : gw.D, gb is null ? default : gb.D, _n, g);
            if (gx is not null) Accumulate(0, gx);
            if (gw is not null) Accumulate(1, gw);
            if (gb is not null) Accumulate(2, gb);
        }

        // Stryker disable once Block: memory only: the saved input and weight are kept until the graph is dropped
        protected override void ReleaseSaved()
        {
            _w = null;
            _x = null;
        }
    }

    /// <summary>Most image chunks of a backward pass (each keeps a partial dW of its own, summed in chunk order).</summary>
    internal const int MaxGradChunks = 16;

    /// <summary>Most elements of all partial dW buffers together (beyond it dW runs image by image).</summary>
    internal const long PartialBudget = 1L << 21;

    /// <summary>Images per chunk of the batch-parallel backward (0 when it does not apply): depends on the shapes
    /// only, never on the core count, so the summation order of dW is fixed.</summary>
    internal static int GradChunkImages(int n, ConvGeom g)
    {
        long perPartial = (long)g.O * g.K;
        int chunks = (int)Math.Min(Math.Min(n, MaxGradChunks), PartialBudget / Math.Max(1, perPartial));
        if (chunks < 2) return 0;
        int per = (n + chunks - 1) / chunks;
        return per;
    }

    /// <summary>Whether the chunked backward computes dWᵀ [K, O] = cols · gyᵀ rather than dW [O, K] = gy · colsᵀ: when
    /// K &lt; O (a first layer, e.g. 1 channel x 3x3 = 9 against 32 filters) the product's narrow side is then its rows
    /// (micro-kernel tiles of MR rows) instead of its columns (tiles NR wide, mostly padding).</summary>
    internal static bool TransposedWeightGrad(ConvGeom g) => g.K < g.O;

    private static unsafe void Grads<T>(ReadOnlySpan<T> gy, ReadOnlySpan<T> w, ReadOnlySpan<T> x, Span<T> gx, Span<T> gw, Span<T> gb, int n, ConvGeom g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int colsLen = g.K * g.P, imgOut = g.O * g.P, imgIn = g.C * g.H * g.W;
        int per = GradChunkImages(n, g);
        if (per != 0)
        {
            // Coarse pieces: chunks of images claimed one at a time by whichever thread is free; each chunk computes
            // its images' dW and db into partials of its own (dW_c = Σ_{i in c} gy[i] · cols[i]ᵀ) and their dx;
            // the partials are then added in chunk order.
            int chunks = (n + per - 1) / per;
            int wLen = g.O * g.K;
            T[]? partial = gw.IsEmpty ? null : System.Buffers.ArrayPool<T>.Shared.Rent(chunks * wLen);
            T[]? partialB = gb.IsEmpty ? null : System.Buffers.ArrayPool<T>.Shared.Rent(chunks * g.O);
            var body = GradBody<T>.Rent();
            try
            {
                fixed (T* pgy = gy, pw = w, px = x, pgx = gx, ppart = partial, ppb = partialB)
                {
                    body.Set(pgy, pw, px, pgx, ppart, ppb, g, n, per); // an empty gx pins as a null pointer
                    WorkerPool.For(chunks, body);
                }
                if (partial is not null && TransposedWeightGrad(g))
                {
                    // the partials hold dWᵀ [K, O]
                    for (int c = 0; c < chunks; c++)
                    {
                        var pc = partial.AsSpan(c * wLen, wLen);
                        for (int k = 0; k < g.K; k++)
                            for (int o = 0; o < g.O; o++)
                                gw[o * g.K + k] += pc[k * g.O + o];
                    }
                }
                else if (partial is not null)
                    for (int c = 0; c < chunks; c++)
                        System.Numerics.Tensors.TensorPrimitives.Add(gw, partial.AsSpan(c * wLen, wLen), gw);
                if (partialB is not null)
                    for (int c = 0; c < chunks; c++)
                        System.Numerics.Tensors.TensorPrimitives.Add(gb, partialB.AsSpan(c * g.O, g.O), gb);
            }
            finally
            {
                // Stryker disable once Statement: memory only: a new body is made when the thread has no spare one
                GradBody<T>.Return(body);
                // Stryker disable once Statement: memory only: a partial buffer not given back is collected, and the next Rent makes a new one
                if (partial is not null) System.Buffers.ArrayPool<T>.Shared.Return(partial);
                // Stryker disable once Statement: memory only: a partial buffer not given back is collected, and the next Rent makes a new one
                if (partialB is not null) System.Buffers.ArrayPool<T>.Shared.Return(partialB);
            }
            return;
        }
        // dW [O, K] += Σ_i gy[i] [O, P] · cols[i]ᵀ [P, K], images in order (the GEMM parallelises large products)
        if (!gw.IsEmpty)
        {
            T[] scratch = System.Buffers.ArrayPool<T>.Shared.Rent(colsLen);
            try
            {
                var col = scratch.AsSpan(0, colsLen);
                for (int i = 0; i < n; i++)
                {
                    ConvKernels.Im2Col(x.Slice(i * imgIn, imgIn), g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, col);
                    GemmT.Run(false, true, g.O, g.K, g.P, gy.Slice(i * imgOut, imgOut), g.P, col, g.P, true, gw, g.K);
                }
            }
            finally
            {
                // Stryker disable once Statement: memory only: a scratch not given back is collected, and the next Rent makes a new one
                System.Buffers.ArrayPool<T>.Shared.Return(scratch);
            }
        }
        // dx: images are independent, so they run in parallel in fixed chunks
        if (!gx.IsEmpty)
            fixed (T* pgy = gy, pw = w, pgx = gx)
                // Stryker disable once Arithmetic: the work estimate only decides how many threads share the images, not what each computes
                RowParallel.For(new InputGradJob<T>(pgy, pw, pgx, g), n, (long)g.K * g.P * (g.O + 1));
        if (!gb.IsEmpty) ConvKernels.AddChannelBiasBackward(gy, n, g.O, g.P, gb);
    }

    /// <summary>One chunk of images of the batch-parallel backward: for each image i of the chunk, the chunk's
    /// partial db (+)= Σ_p gy[i, ·, p] and partial dW (+)= gy[i] · im2col(x[i])ᵀ, then dx[i] += col2im(Wᵀ · gy[i]). Reused per thread and element type.</summary>
    private sealed unsafe class GradBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static GradBody<T>? t_spare;
        private T* _gy, _w, _x, _gx, _partial, _partialB;
        private ConvGeom _g;
        private int _n, _per;

        public static GradBody<T> Rent()
        {
            // Stryker disable once NullCoalescing: memory only: a new body instead of the thread's spare one
            var b = t_spare ?? new GradBody<T>();
            t_spare = null;
            return b;
        }

        public static void Return(GradBody<T> b)
        {
            // Stryker disable once Statement: the pointers of a returned body are never read: Set fills them again before each use
            b.Set(null, null, null, null, null, null, default, 0, 0);
            t_spare = b;
        }

        public void Set(T* gy, T* w, T* x, T* gx, T* partial, T* partialB, ConvGeom g, int n, int per)
        {
            _gy = gy; _w = w; _x = x; _gx = gx; _partial = partial; _partialB = partialB;
            _g = g; _n = n; _per = per;
        }

        public void Run(int c)
        {
            var g = _g;
            int start = c * _per, end = Math.Min(_n, start + _per);
            int imgIn = g.C * g.H * g.W, colsLen = g.K * g.P, imgOut = g.O * g.P, wLen = g.O * g.K;
            var wSpan = new ReadOnlySpan<T>(_w, wLen);
            // one column-sized scratch serves both the rebuilt im2col of x[i] (dW) and dcols (dx), in turn
            var scratch = ColumnScratch<T>.Get(colsLen);
            for (int i = start; i < end; i++)
            {
                var gyi = new ReadOnlySpan<T>(_gy + (long)i * imgOut, imgOut);
                if (_partialB is not null)
                {
                    var pb = new Span<T>(_partialB + (long)c * g.O, g.O);
                    if (i == start) pb.Clear();
                    ConvKernels.AddChannelBiasBackward<T>(gyi, 1, g.O, g.P, pb);
                }
                if (_partial is not null)
                {
                    var col = scratch;
                    ConvKernels.Im2Col(new ReadOnlySpan<T>(_x + (long)i * imgIn, imgIn), g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, col);
                    var pw = new Span<T>(_partial + (long)c * wLen, wLen);
                    if (TransposedWeightGrad(g)) GemmT.Run(false, true, g.K, g.O, g.P, col, g.P, gyi, g.P, i > start, pw, g.O);
                    else GemmT.Run(false, true, g.O, g.K, g.P, gyi, g.P, col, g.P, i > start, pw, g.K);
                }
                if (_gx is not null)
                {
                    var dcols = scratch;
                    GemmT.Run(true, false, g.K, g.P, g.O, wSpan, g.K, gyi, g.P, false, dcols, g.P);
                    ConvKernels.Col2ImScratch<T>(dcols, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw,
                                                 new Span<T>(_gx + (long)i * imgIn, imgIn));
                }
            }
        }
    }

    /// <summary>A per-thread, grow-only column scratch (one image's [K, P]); a thread uses one at a time (a conv never
    /// runs inside another), and it stays in that core's cache from one image to the next. Columns larger than
    /// <see cref="MaxKept"/> elements get a buffer of their own that is not kept (no thread holds a huge one forever).</summary>
    private static class ColumnScratch<T> where T : unmanaged
    {
        private const int MaxKept = 1 << 22;
        [ThreadStatic] private static T[]? t_buffer;

        public static Span<T> Get(int length)
        {
            // Stryker disable once Equality,Boolean: memory only: which column sizes get a buffer of their own instead of the kept one; every size gets one large enough
            if (length > MaxKept) return new T[length];
            var b = t_buffer;
            // Stryker disable once Equality: memory only: a kept buffer of exactly the length asked for is replaced by a new one of the same length
            if (b is null || b.Length < length) t_buffer = b = new T[length];
            return b.AsSpan(0, length);
        }
    }

    /// <summary>Transposed conv2d: x [N, Cin, H, W], w [Cin, Cout, kh, kw] → [N, Cout, Hout, Wout],
    /// Hout = (H−1)·s − 2p + d·(k−1) + outputPadding + 1.</summary>
    internal static Tensor ConvTranspose2d(Tensor x, Tensor w, Tensor? b, (int h, int w) stride, (int h, int w) pad,
                                           (int h, int w) outPad, (int h, int w) dil)
    {
        x.RequireFloat("ConvTranspose2d");
        if (x.Rank != 4 || w.Rank != 4 || x.DType != w.DType || x.Shape[1] != w.Shape[0])
            throw new ShapeMismatchException($"ConvTranspose2d: input {ShapeUtil.Format(x.Shape)} ([N, Cin, H, W]) does not fit weight {ShapeUtil.Format(w.Shape)} ([Cin, Cout, kh, kw]) (same dtype and Cin).");
        Positive("ConvTranspose2d", stride, dil);
        if (outPad.h < 0 || outPad.w < 0 || (outPad.h >= stride.h && outPad.h >= dil.h) || (outPad.w >= stride.w && outPad.w >= dil.w))
            throw new ArgumentOutOfRangeException(nameof(outPad), $"ConvTranspose2d: output padding {outPad} must be smaller than stride {stride} or dilation {dil}.");
        if (pad.h < 0 || pad.w < 0) throw new ArgumentOutOfRangeException(nameof(pad), $"ConvTranspose2d: padding {pad} must be non-negative.");
        int n = x.Shape[0], cin = x.Shape[1], h = x.Shape[2], wd = x.Shape[3], cout = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        CheckBias("ConvTranspose2d", b, cout, w.DType);
        int oh = (h - 1) * stride.h - 2 * pad.h + dil.h * (kh - 1) + outPad.h + 1;
        int ow = (wd - 1) * stride.w - 2 * pad.w + dil.w * (kw - 1) + outPad.w + 1;
        if (oh < 1 || ow < 1)
            throw new ShapeMismatchException($"ConvTranspose2d: input {ShapeUtil.Format(x.Shape)} with kernel {kh}x{kw}, stride {stride}, padding {pad} gives an empty output ({oh}x{ow}).");
        // the adjoint conv: image [Cout, oh, ow] convolved with kernel gives [Cin, h, w]; bottom/right padding
        // absorbs the output padding so that ConvOutSize(oh) == h
        var g = new ConvGeom(cout, oh, ow, cin, kh, kw, stride.h, stride.w, pad.h, pad.w, pad.h - outPad.h, pad.w - outPad.w, dil.h, dil.w, h, wd);
        var y = Tensor.Zeros([n, cout, oh, ow], x.DType);
        var xc = x.Contiguous();
        var wc = w.Contiguous();
        if (x.DType == DType.Float32) TransposeForward<float>(xc.F, wc.F, (b is null ? default : b.Contiguous().F), y.F, n, g);
        else TransposeForward<double>(xc.D, wc.D, (b is null ? default : b.Contiguous().D), y.D, n, g);
        if (Autograd.ShouldRecord([x, w, b ?? x])) y.MarkRecorded(new ConvTransposeBackward(x, w, b, xc, wc, g));
        return y;
    }

    private static void TransposeForward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y, int n, ConvGeom g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // g describes the adjoint convolution: C = Cout (image channels), O = Cin, P = h·w of the input
        int imgIn = g.O * g.P, colsLen = g.K * g.P, imgOut = g.C * g.H * g.W;
        T[] cols = System.Buffers.ArrayPool<T>.Shared.Rent(colsLen);
        try
        {
            for (int i = 0; i < n; i++)
            {
                // cols [Cout·kh·kw, P] = Wᵀ [K, Cin] · x[i] [Cin, P]; y[i] = col2im(cols)
                GemmT.Run(true, false, g.K, g.P, g.O, w, g.K, x.Slice(i * imgIn, imgIn), g.P, false, cols.AsSpan(0, colsLen), g.P);
                ConvKernels.Col2Im<T>(cols.AsSpan(0, colsLen), g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, y.Slice(i * imgOut, imgOut));
            }
        }
        finally
        {
            // Stryker disable once Statement: memory only: a column buffer not given back is collected, and the next Rent makes a new one
            System.Buffers.ArrayPool<T>.Shared.Return(cols);
        }
        if (!b.IsEmpty) ConvKernels.AddChannelBias(y, b, n, g.C, g.H * g.W);
    }

    private sealed class ConvTransposeBackward(Tensor x, Tensor w, Tensor? b, Tensor xc, Tensor wc, ConvGeom g) : Node(x, w, b)
    {
        private Tensor? _x = xc, _w = wc;
        private readonly int _n = x.Shape[0];

        protected internal override void Backward(Tensor gy)
        {
            var g2 = gy.Contiguous();
            Tensor? gx = null, gw = null, gb = null;
            // each image's block of dx is written whole by its GEMM (no accumulation), so dx needs no clearing
            if (NeedsGrad(0)) gx = Tensor.Empty(_x!.ShapeArray, gy.DType);
            if (NeedsGrad(1)) gw = Tensor.Zeros(_w!.ShapeArray, gy.DType);
            if (NeedsGrad(2)) gb = Tensor.Zeros([g.C], gy.DType);
            if (gy.DType == DType.Float32)
                TransposeGrads<float>(g2.F, _x!.F, _w!.F, gx is null ? default : gx.F, gw is null ? default : gw.F, gb is null ? default : gb.F, _n, g);
            else
                TransposeGrads<double>(g2.D, _x!.D, _w!.D, gx is null ? default : gx.D, gw is null ? default : gw.D, gb is null ? default : gb.D, _n, g);
            if (gx is not null) Accumulate(0, gx);
            if (gw is not null) Accumulate(1, gw);
            if (gb is not null) Accumulate(2, gb);
        }

        // Stryker disable once Block: memory only: the saved input and weight are kept until the graph is dropped
        protected override void ReleaseSaved()
        {
            _x = null;
            _w = null;
        }
    }

    private static void TransposeGrads<T>(ReadOnlySpan<T> gy, ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> gx, Span<T> gw, Span<T> gb, int n, ConvGeom g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int imgIn = g.O * g.P, colsLen = g.K * g.P, imgOut = g.C * g.H * g.W;
        T[] cols = System.Buffers.ArrayPool<T>.Shared.Rent(colsLen);
        try
        {
            for (int i = 0; i < n; i++)
            {
                var col = cols.AsSpan(0, colsLen);
                ConvKernels.Im2Col(gy.Slice(i * imgOut, imgOut), g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, col);
                // dx[i] [Cin, P] = W [Cin, K] · cols [K, P]
                if (!gx.IsEmpty) GemmT.Run(false, false, g.O, g.P, g.K, w, g.K, col, g.P, false, gx.Slice(i * imgIn, imgIn), g.P);
                // dW [Cin, K] += x[i] [Cin, P] · colsᵀ [P, K]
                if (!gw.IsEmpty) GemmT.Run(false, true, g.O, g.K, g.P, x.Slice(i * imgIn, imgIn), g.P, col, g.P, true, gw, g.K);
            }
        }
        finally
        {
            // Stryker disable once Statement: memory only: a column buffer not given back is collected, and the next Rent makes a new one
            System.Buffers.ArrayPool<T>.Shared.Return(cols);
        }
        if (!gb.IsEmpty) ConvKernels.AddChannelBiasBackward(gy, n, g.C, g.H * g.W, gb);
    }
}
