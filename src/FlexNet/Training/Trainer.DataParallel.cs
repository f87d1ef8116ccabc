using System.Globalization;
using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.InteropServices;
using FlexNet.Autodiff;
using FlexNet.Distributed;
using FlexNet.Losses;
using FlexNet.Tensors;

namespace FlexNet.Training;

/// <summary>Synchronous data parallelism (<see cref="TrainerOptions.Communicator"/>): the start-of-training agreement
/// and broadcast, one training step on this rank's share of the global batch with one gradient all-reduce, and the
/// end-of-epoch agreement.</summary>
public sealed partial class Trainer
{
    /// <summary>Per-Fit state of a data-parallel run: the communicator and the one buffer every step all-reduces.</summary>
    /// <remarks>Buffer layout (float when every parameter is float32, else double), P parameters of E elements:
    /// <c>[n_r·g (E) | has-gradient flags (P) | n_r | n_r·loss_r | metric sums (M) | metric counts (M) | cancel]</c>.
    /// Reducing it with one sum gives Σ n_r·g_r, how many ranks reached each parameter, the global sample count,
    /// the global loss sum, the metric totals and whether any rank was cancelled.</remarks>
    private sealed class ParallelRun(ICommunicator comm, int elements, int parameters, int metrics, bool useDouble)
    {
        public ICommunicator Comm { get; } = comm;
        public int Rank => Comm.Rank;
        public int Elements { get; } = elements;
        public int Parameters { get; } = parameters;
        public int Metrics { get; } = metrics;
        public float[]? F { get; } = useDouble ? null : new float[elements + parameters + 3 + 2 * metrics];
        public double[]? D { get; } = useDouble ? new double[elements + parameters + 3 + 2 * metrics] : null;
        public double[] LocalSums { get; } = new double[metrics];
        public double[] LocalCounts { get; } = new double[metrics];
    }

    /// <summary>This rank's contiguous part of a global batch of <paramref name="count"/> samples: the first
    /// <c>count mod size</c> ranks take one sample more (a rank may get none when count &lt; size).</summary>
    internal static (int Start, int Length) Share(int count, int rank, int size)
    {
        int q = count / size, rem = count % size;
        return (rank * q + Math.Min(rank, rem), q + (rank < rem ? 1 : 0));
    }

    private ParallelRun? BeginParallel(IDataset train, int samples)
    {
        if (Options.Communicator is not { Size: > 1 } comm) return null;
        // Stryker disable once Assignment: speed only: counting the outputs again gives the same count
        _outputCount ??= CountOutputs(train);
        var o = Options;
        if (Optimizer.Rule.NeedsHessianVectorProduct)
            throw new ArgumentException($"Trainer: data-parallel training does not support the '{Optimizer.Rule.Name}' rule (it re-evaluates the loss inside the step).");
        foreach (var (loss, _) in o.ResolveLosses(_outputCount.Value))
            if (loss.Reduction != Reduction.Mean)
                throw new ArgumentException($"Trainer: data-parallel training averages the ranks' mean losses; loss '{loss.Name}' uses Reduction.{loss.Reduction}.");
        long elements = 0;
        // Stryker disable once Boolean: precision only: float32 gradients averaged in a double buffer round once, on every rank alike
        bool useDouble = false;
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            elements += p.Length;
            if (p.DType == DType.Float64) useDouble = true;
            else if (p.DType != DType.Float32)
                throw new ArgumentException($"Trainer: data-parallel training needs float32 or float64 parameters; {Optimizers.Optimizer.ParamName(p, i)} is {p.DType}.");
        }
        if (elements > int.MaxValue / 2) throw new ArgumentException($"Trainer: {elements} parameter elements are too many for one gradient buffer.");
        int metrics = _outputCount.Value * o.Metrics.Count;

        // Ranks that disagree on these would call different numbers of collectives and hang: check first.
        ReadOnlySpan<string> names = ["training samples", "batch size", "epochs", "seed", "shuffle", "parameter tensors", "parameter elements", "metrics", "validation split (ppm)"];
        Span<long> mine = [samples, o.BatchSize, o.Epochs, (long)(o.Seed & long.MaxValue), o.Shuffle ? 1 : 0, _params.Length, elements, metrics, (long)(o.ValidationSplit * 1e6)];
        var both = new long[2 * mine.Length];
        for (int i = 0; i < mine.Length; i++) { both[i] = mine[i]; both[mine.Length + i] = -mine[i]; }
        comm.AllReduce<long>(both, ReduceOp.Max);
        for (int i = 0; i < mine.Length; i++)
            if (both[i] != -both[mine.Length + i])
                throw new DistributedException(string.Create(CultureInfo.InvariantCulture,
                    $"Data-parallel training: the {comm.Size} ranks disagree on the {names[i]} (this rank {comm.Rank}: {mine[i]}; range over ranks {-both[mine.Length + i]} … {both[i]}). Every rank must train the same model on the same data with the same options."));

        BroadcastState(comm);
        return new ParallelRun(comm, (int)elements, _params.Length, metrics, useDouble);
    }

    /// <summary>Rank 0's checkpoint (parameters, optimizer state, generators, epoch) goes to every rank, so all start
    /// from the same point, including on resume.</summary>
    private void BroadcastState(ICommunicator comm)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"flexnet-dp-{Environment.ProcessId}-{Guid.NewGuid():N}.ckpt");
        try
        {
            byte[] bytes = [];
            if (comm.Rank == 0)
            {
                SaveCheckpoint(path);
                bytes = File.ReadAllBytes(path);
            }
            Span<long> length = [bytes.LongLength];
            comm.Broadcast(length, 0);
            if (comm.Rank != 0) bytes = new byte[length[0]];
            comm.Broadcast<byte>(bytes, 0);
            if (comm.Rank != 0)
            {
                File.WriteAllBytes(path, bytes);
                LoadCheckpoint(path);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>One synchronous step: forward and backward on this rank's share, one all-reduce, the same update on
    /// every rank. Returns false (and takes no step) when any rank's cancellation token was set.</summary>
    private bool TrainStepParallel(ParallelRun dp, IDataset data, ReadOnlySpan<int> global, int epoch, int batch, double[] sums, double[] counts, out double loss)
    {
        var o = Options;
        long step = Optimizer.StepCount + 1;
        var (from, length) = Share(global.Length, dp.Rank, dp.Comm.Size);
        Optimizer.ZeroGrad(setToNone: !o.ReuseGradientBuffers);
        Array.Clear(dp.LocalSums);
        Array.Clear(dp.LocalCounts);
        using var scope = TensorScope.Begin();
        double localLoss = 0;
        if (length > 0)
        {
            var bt = new StepBatch();
            bt.Load(data, global.Slice(from, length));
            var outputs = Run(bt, training: true);
            var total = TotalLoss(outputs, bt.Targets, bt.Weights, bt.Mask, bt.Inputs, training: true);
            localLoss = total.Item();
            if (o.CheckFinite && !double.IsFinite(localLoss)) throw ForwardError(localLoss, outputs, bt.Inputs, bt.Targets, step, epoch, batch);
            total.Backward();
            if (o.CheckFinite) CheckParams(grads: true, step, epoch, batch);
            if (o.Metrics.Count > 0)
            {
                using (Autograd.NoGrad()) AccumulateMetrics(outputs, bt.Targets, dp.LocalSums, dp.LocalCounts);
            }
        }
        bool cancel = o.CancellationToken.IsCancellationRequested;
        double globalCount = dp.F is not null
            ? Exchange<float>(dp, dp.F, length, localLoss, cancel, sums, counts, out loss, out bool anyCancel)
            : Exchange<double>(dp, dp.D!, length, localLoss, cancel, sums, counts, out loss, out anyCancel);
        if (anyCancel) return false;
        if (globalCount <= 0) throw new DistributedException($"Data-parallel step {step}: the ranks together had no samples.");
        Optimizer.Step();
        if (o.CheckFinite) CheckParams(grads: false, step, epoch, batch);
        return true;
    }

    /// <summary>Packs n_r·g_r and the statistics, all-reduces them (the step's only communication), and leaves the
    /// sample-weighted mean gradient Σ n_r·g_r / Σ n_r in every parameter's <see cref="Tensor.Grad"/>. Because each
    /// rank's loss is the mean over its n_r samples, that equals the gradient of the mean over the global batch.</summary>
    private double Exchange<T>(ParallelRun dp, T[] buffer, int n, double localLoss, bool cancel, double[] sums, double[] counts, out double loss, out bool anyCancel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int e = dp.Elements, p = dp.Parameters, m = dp.Metrics;
        var buf = buffer.AsSpan();
        int offset = 0;
        for (int i = 0; i < _params.Length; i++)
        {
            var g = _params[i].Grad;
            int len = _params[i].Length;
            if (g is null || n == 0) buf.Slice(offset, len).Clear();
            else Pack(buf.Slice(offset, len), g, n);
            buf[e + i] = g is null || n == 0 ? T.Zero : T.One;
            offset += len;
        }
        int x = e + p;
        buf[x] = T.CreateChecked(n);
        buf[x + 1] = T.CreateChecked(localLoss * n);
        for (int k = 0; k < m; k++) { buf[x + 2 + k] = T.CreateChecked(dp.LocalSums[k]); buf[x + 2 + m + k] = T.CreateChecked(dp.LocalCounts[k]); }
        buf[x + 2 + 2 * m] = cancel ? T.One : T.Zero;

        dp.Comm.AllReduce(buf, ReduceOp.Sum);

        anyCancel = buf[x + 2 + 2 * m] > T.Zero;
        double total = double.CreateChecked(buf[x]);
        loss = total > 0 ? double.CreateChecked(buf[x + 1]) / total : double.NaN;
        for (int k = 0; k < m; k++) { sums[k] += double.CreateChecked(buf[x + 2 + k]); counts[k] += double.CreateChecked(buf[x + 2 + m + k]); }
        if (anyCancel || total <= 0) return total;
        offset = 0;
        for (int i = 0; i < _params.Length; i++)
        {
            var prm = _params[i];
            int len = prm.Length;
            if (buf[e + i] > T.Zero)
            {
                // Some rank reached this parameter: every rank updates it (a rank that did not contributed zeros).
                if (prm.Grad is null)
                    using (TensorScope.Suspend()) prm.Grad = Tensor.Zeros(prm.ShapeArray, prm.DType);
                Unpack(prm.Grad, buf.Slice(offset, len), T.CreateChecked(total));
            }
            else prm.Grad = null; // no rank reached it: skipped by the step, as in one process
            offset += len;
        }
        return total;
    }

    private static void Pack<T>(Span<T> dst, Tensor grad, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) TensorPrimitives.Multiply(grad.F, n, MemoryMarshal.Cast<T, float>(dst));
        else if (grad.DType == DType.Float64) TensorPrimitives.Multiply(grad.D, n, MemoryMarshal.Cast<T, double>(dst));
        else
        {
            var s = grad.F;
            var d = MemoryMarshal.Cast<T, double>(dst);
            for (int i = 0; i < s.Length; i++) d[i] = s[i] * (double)n;
        }
    }

    private static void Unpack<T>(Tensor grad, ReadOnlySpan<T> src, T total) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) TensorPrimitives.Divide(MemoryMarshal.Cast<T, float>(src), float.CreateChecked(total), grad.F);
        else if (grad.DType == DType.Float64) TensorPrimitives.Divide(MemoryMarshal.Cast<T, double>(src), double.CreateChecked(total), grad.D);
        else
        {
            var s = MemoryMarshal.Cast<T, double>(src);
            var d = grad.F;
            double t = double.CreateChecked(total);
            for (int i = 0; i < s.Length; i++) d[i] = (float)(s[i] / t);
        }
    }

    /// <summary>End of an epoch: stop if any rank wants to (callbacks may differ), and verify that the weights are
    /// still bit-identical on every rank (a 64-bit hash compared by min/max), which the same reduced gradients and
    /// the same update rule guarantee unless something rank-local crept in.</summary>
    private bool EndEpochParallel(ParallelRun dp, bool stop)
    {
        ulong h = 14695981039346656037UL;
        foreach (var p in _params)
        {
            var bytes = p.DType == DType.Float64 ? MemoryMarshal.AsBytes(p.Contiguous().D) : MemoryMarshal.AsBytes(p.Contiguous().F);
            var words = MemoryMarshal.Cast<byte, uint>(bytes);
            for (int i = 0; i < words.Length; i++) h = (h ^ words[i]) * 1099511628211UL;
        }
        Span<long> v = [stop ? 1 : 0, (long)h, -(long)h];
        dp.Comm.AllReduce(v, ReduceOp.Max);
        if (v[1] != -v[2])
            throw new DistributedException(string.Create(CultureInfo.InvariantCulture,
                $"Data-parallel training: after epoch {Epoch} the weights differ between ranks (hash on rank {dp.Rank}: {h:x16}). Something rank-local changed them (a callback, batch-norm statistics, or an MPI whose all-reduce is not bitwise identical on every rank)."));
        return v[0] != 0;
    }
}
