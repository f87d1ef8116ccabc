using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// lstm_train + lstm_cell_loop_train (shared/bench/pytorch/lstm_train.py): LSTM 32 → 256 (gates i, f, g, o, both
/// bias vectors, h₀ = c₀ = 0, all parameters U(−1/16, 1/16)), Dense 256 → 1 on h_T, MSE, Adam 1e-3, batch 64,
/// T = 50, the adding problem (x[:, :, 0] values, x[:, :, 1] two markers, the rest U(0,1) noise; a pool of 16
/// batches cycled); 1.5 s of JIT warm-up on a throw-away model (<see cref="BenchSupport.JitWarmupTraining"/>), then the spec's 5 warm-up steps, then 5 timed repeats of 20 steps through <see cref="Trainer"/>; median
/// sequences/s. <c>lstm_train</c> uses the catalog <see cref="LSTM"/> layer over the whole sequence (batch-first
/// [64, 50, 32]); <c>lstm_cell_loop_train</c> the LSTM built as a graph of layers and connections, stepped 50 times
/// (gates are sigmoid/tanh layers fed by dense connections from x(t) and h(t−1), products are Product-combine
/// layers, the memory c keeps its value through an identity self-connection of delay 1; input [50, 64, 32]).
/// </summary>
internal sealed class LstmWorkload : IWorkload
{
    internal const int B = 64, T = 50, In = 32, H = 256, Pool = 16, WarmupSteps = 5, Steps = 20, Repeats = 5;

    public IEnumerable<string> Names => ["lstm_train", "lstm_cell_loop_train"];

    public int Order => 30;

    /// <summary>The adding-problem pool: x [Pool·B, T, In] (batch-first) and y [Pool·B, 1].</summary>
    internal static (float[] X, float[] Y) AddingData(ulong seed)
    {
        var rng = new RandomGenerator(seed);
        int n = Pool * B;
        var x = new float[n * T * In];
        var y = new float[n];
        var pos = new int[T];
        for (int s = 0; s < n; s++)
        {
            for (int i = 0; i < T * In; i++) x[s * T * In + i] = (float)rng.NextDouble();
            for (int t = 0; t < T; t++) { x[(s * T + t) * In + 1] = 0; pos[t] = t; }
            rng.Shuffle(pos);
            double target = 0;
            for (int k = 0; k < 2; k++)
            {
                x[(s * T + pos[k]) * In + 1] = 1;
                target += x[(s * T + pos[k]) * In];
            }
            y[s] = (float)target;
        }
        return (x, y);
    }

    /// <summary>The LSTM from primitives, stepped over a temporal input [T, N, In]; output the head at the last step.</summary>
    internal static Network BuildPrimitives(ulong seed)
    {
        var net = new Network("lstm_cells", DType.Float32, seed);
        var x = new InputLayer(In, sequenceLength: T, name: "x");
        var gi = new Layer(H, "sigmoid", name: "i");
        var gf = new Layer(H, "sigmoid", name: "f");
        var gg = new Layer(H, "tanh", name: "g");
        var go = new Layer(H, "sigmoid", name: "o");
        var ig = new Layer(H, combine: CombineRule.Product, name: "i*g");
        var fc = new Layer(H, combine: CombineRule.Product, name: "f*c");
        var c = new Layer(H, name: "c");
        var tc = new Layer(H, "tanh", name: "tanh(c)");
        var h = new Layer(H, combine: CombineRule.Product, name: "h");
        var head = new Layer(1, name: "head");
        var dense = new List<DenseConnection>();
        foreach (var gate in new[] { gi, gf, gg, go })
        {
            dense.Add(net.ConnectDense(x, gate));
            dense.Add(net.ConnectDense(h, gate, delay: 1));
        }
        net.ConnectIdentity(gi, ig);
        net.ConnectIdentity(gg, ig);
        net.ConnectIdentity(gf, fc);
        net.ConnectIdentity(c, fc, delay: 1);
        net.ConnectIdentity(ig, c);
        net.ConnectIdentity(fc, c);
        net.ConnectIdentity(c, tc);
        net.ConnectIdentity(go, h);
        net.ConnectIdentity(tc, h);
        net.ConnectDense(h, head);
        net.AddOutput(head, OutputMode.LastStep);
        net.Compile();
        // torch.nn.LSTMCell initialises every parameter U(−1/√H, 1/√H), the input weights included
        var rng = new RandomGenerator(seed ^ 0x5151);
        double bound = 1 / Math.Sqrt(H);
        foreach (var d in dense)
        {
            d.Weight.CopyFrom(Tensor.Uniform(d.Weight.ShapeArray, -bound, bound, rng, DType.Float32));
            d.Bias!.CopyFrom(Tensor.Uniform(d.Bias.ShapeArray, -bound, bound, rng, DType.Float32));
        }
        return net;
    }

    public void Run(string name, Reporter reporter)
    {
        var (xs, ys) = AddingData(42);
        int n = Pool * B;
        var y = Tensor.FromArray(ys, n, 1);
        var x = name == "lstm_train"
            ? Tensor.FromArray(xs, n, T, In)
            : Tensor.FromArray(xs, n, T, In).Transpose(0, 1).Contiguous(); // [T, N, In] for the graph cell
        (IMultiTrainable Model, TrainerOptions Options, Network? Cells) Make(ulong seed)
        {
            var o = new TrainerOptions { BatchSize = B, Loss = new MeanSquaredError(), Optimizer = new Adam(1e-3) };
            if (name == "lstm_train")
            {
                var m = new Sequential("lstm", DType.Float32, seed, new LSTM(H, returnSequences: false), new Dense(1));
                m.InputShape = [T, In];
                m.SequenceInput = false;
                return (m.Network.AsTrainable(), o, null);
            }
            var net = BuildPrimitives(seed);
            o.InputBatchAxis = 1;
            return (net.AsTrainable(), o, net);
        }
        var warm = Make(1234);
        long warmSteps = BenchSupport.JitWarmupTraining(warm.Model, warm.Options, x, y);
        reporter.Log($"{name}: JIT warm-up on a throw-away model, {warmSteps} steps");
        var (model, options, cells) = Make(0);
        var (seconds, losses) = BenchSupport.TimeTrainerSteps(model, options, x, y, WarmupSteps, Repeats, Steps);
        var rates = seconds.Select(s => Steps * B / s).ToArray();
        reporter.Report(name, Timing.Median(rates), "sequences/s", rates);
        reporter.Log($"{name}: loss at end of each repeat {BenchSupport.List(losses)}");
        if (cells?.Plan is { } plan)
            reporter.Log($"{name}: LSTM cells fused by the plan {plan.FusedCellCount}, last run fused {plan.LastRunFusedCells}");
        reporter.Log($"{name}: process CPU ms per step (all threads) {BenchSupport.List(BenchSupport.LastCpuSecondsPerStep.Select(v => v * 1e3))}");
    }
}
