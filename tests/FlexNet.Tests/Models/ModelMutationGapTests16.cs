// Over 300 lines on purpose: one class for the session-16 survivors of Model, Model.Keras, Model.Freeze, Model.Files
// and FrozenModel, which share the small models at its top.
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Tests.IO;
using FlexNet.Training;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Models;

/// <summary>What the mutation run of <c>Models</c> in session 16 (mod16) showed untested in the <see cref="Model"/> API:
/// null arguments (each refused by name, not by a later NullReferenceException), input inference of traced models from
/// the first batch (sequence lead axes, the rank check, an empty input list), the names of unnamed inputs, identity
/// feedback, mixed sequence and static inputs, Predict on several outputs, SaveWeights' metadata, LoadWeights' lists,
/// Keras' Compile (eager build, default optimizer, seed, batch axis) and Freeze (its messages, explicit steps, a
/// network changed after the build) and a disposed frozen model.</summary>
public sealed class ModelMutationGapTests16
{
    /// <summary>A traced model: Dense(2) on whatever input the first batch gives.</summary>
    private sealed class Traced(string name = "traced", ulong seed = 3) : Model(name, DType.Float64, seed)
    {
        protected override SymbolicTensor Forward(SymbolicTensor x) => new Dense(2, "tanh", name: "d").Call(x);
    }

    private static Tensor X(ulong seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new RandomGenerator(seed)).To(DType.Float64);

    private static string NullParam(Action a) => Assert.Throws<ArgumentNullException>(a).ParamName!;

    [Fact]
    public void NullArguments_AreRefusedByName()
    {
        var x = Input(3, name: "x");
        var y = new Dense(2, name: "d").Call(x);
        Assert.Equal("inputs", NullParam(() => _ = new Model(null!, [y])));
        Assert.Equal("outputs", NullParam(() => _ = new Model([x], null!)));
        var m = new Model(x, y, "m", DType.Float64);
        Assert.Equal("inputs", NullParam(() => m.Forward((Tensor[])null!, false)));
        Assert.Equal("inputs", NullParam(() => m.Forward(null!, false, null)));
        Assert.Equal("inputs", NullParam(() => ((IForwardInto)m).ForwardInto(null!, false, null, null)));
        Assert.Equal("input", NullParam(() => m.Predict(null!)));
        Assert.Equal("path", NullParam(() => m.LoadWeights(null!)));
        Assert.Equal("path", NullParam(() => m.Save(null!)));
        Assert.Equal("path", NullParam(() => Model.Load(null!)));
        Assert.Equal("loss", NullParam(() => m.Compile((string)null!)));
        Assert.Equal("optimizer", NullParam(() => m.Compile("mse", (string)null!)));
        Assert.Equal("loss", NullParam(() => m.Compile((string)null!, new Sgd(0.1))));
        Assert.Equal("loss", NullParam(() => m.Compile((Loss)null!)));
        m.Compile("mse");
        var t = X(1, 4, 3);
        Assert.Equal("x", NullParam(() => m.Fit(x: null!, y: t, epochs: 1)));
        Assert.Equal("y", NullParam(() => m.Fit(x: t, y: null!, epochs: 1)));
        Assert.Equal("x", NullParam(() => m.Evaluate(null!, t)));
        Assert.Equal("y", NullParam(() => m.Evaluate(t, null!)));
    }

    [Fact]
    public void TracedModels_InferTheirInputFromTheFirstBatch()
    {
        // a sequence input: [T, N, F] gives the per-sample shape [F], and every step's output
        var seq = new Traced("seq") { SequenceInput = true };
        var ys = seq.Forward([X(2, 5, 4, 3)], false, null)[0];
        Assert.Equal([5, 4, 2], ys.ShapeArray);
        Assert.Equal([3], seq.Inputs[0].Shape!);
        Assert.True(seq.Inputs[0].IsSequence);

        // a static input: [N, F, G] gives [F, G] (which the dense layer flattens)
        var flat = new Traced("flat");
        Assert.Equal([4, 2], flat.Forward([X(3, 4, 3, 5)], false)[0].ShapeArray);
        Assert.Equal([3, 5], flat.Inputs[0].Shape!);
        Assert.False(flat.Inputs[0].IsSequence);

        // the rank check: a batch needs a feature axis after its lead axes
        Assert.Equal("Model 'seq2': the first batch [5, 4] has no feature axes.",
                     Assert.Throws<ShapeMismatchException>(() => new Traced("seq2") { SequenceInput = true }.Forward([X(4, 5, 4)], false)).Message);
        Assert.Equal("Model 'flat2': the first batch [4] has no feature axes.",
                     Assert.Throws<ShapeMismatchException>(() => new Traced("flat2").Forward(X(5, 4))).Message);

        // the trainer's entry point builds from its first input too
        var into = new Traced("into");
        Assert.Equal([4, 2], ((IForwardInto)into).ForwardInto([X(6, 4, 3)], false, null, null)[0].ShapeArray);

        // no input at all: the shape is unknown, whichever entry point is called
        const string unknown = "Model 'e{0}': the input shape is unknown; set InputShape or call the model on a batch first.";
        Assert.Equal(string.Format(null, unknown, 1), Assert.Throws<GraphException>(() => new Traced("e1").Forward([], false)).Message);
        Assert.Equal(string.Format(null, unknown, 2), Assert.Throws<GraphException>(() => new Traced("e2").Forward([], false, null)).Message);
        Assert.Equal(string.Format(null, unknown, 3), Assert.Throws<GraphException>(() => ((IForwardInto)new Traced("e3")).ForwardInto([], false, null, null)).Message);
    }

    /// <summary>A subclass that overrides nothing.</summary>
    private sealed class Bare() : Model("bare");

    [Fact]
    public void GraphRefusals_NameTheModelAndTheValue()
    {
        var x = Input(3, name: "x");
        var b = Input(3, name: "b");
        var h = new Dense(3, name: "h").Call(x);
        Assert.Equal($"Model 'm': {h} is not a symbolic input (make inputs with Functional.Input).",
                     Assert.Throws<GraphException>(() => new Model([h], [h], "m")).Message);
        Assert.Equal("Model 'bare' has no inputs/outputs: construct it Functional-style or override Forward(SymbolicTensor).",
                     Assert.Throws<GraphException>(() => _ = new Bare { InputShape = [3] }.Network).Message);

        var sum = new Add(name: "sum").Call(h, new Dense(3, name: "g").Call(b));
        Assert.Equal($"Model 'lost': an output depends on {b} ('b'), which is not among the model's inputs.",
                     Assert.Throws<GraphException>(() => _ = new Model([x], [sum], "lost").Network).Message);

        var m = new Model(x, h, "m");
        Assert.Equal("Model 'm': a feedback edge cannot enter an input.", Assert.Throws<GraphException>(() => m.AddFeedback(h, x)).Message);
        Assert.Same(m, m.AddFeedback(h, h));
        _ = m.Network;
        Assert.Equal("Model 'm': add feedback edges before the first call.", Assert.Throws<GraphException>(() => m.AddFeedback(h, h)).Message);
        var other = new Dense(1, name: "o").Call(x);
        Assert.Equal($"Model 'm': {other} is not part of this model.", Assert.Throws<KeyNotFoundException>(() => m.NodeOf(other)).Message);
        Assert.Equal("h", m.NodeOf(h).Name);
    }

    [Fact]
    public void UnnamedInputs_AreNamedInputOrInputK()
    {
        var a = Input(3);
        var one = new Model(a, new Dense(2, name: "d").Call(a), "one");
        Assert.Equal(["input"], one.Network.Inputs.Select(l => l.Name).ToArray());

        var p = Input(3);
        var q = Input(3);
        var r = Input(3, name: "named");
        var sum = new Add(name: "sum").Call(p, q, r);
        var three = new Model([p, q, r], [sum], "three");
        Assert.Equal(["input1", "input2", "named"], three.Network.Inputs.Select(l => l.Name).ToArray());
    }

    [Fact]
    public void IdentityFeedback_AddsNoWeights_AndDenseFeedbackDoes()
    {
        Model Build(string kind)
        {
            var x = Input(3, sequence: true, name: "x");
            var h = new Dense(3, "tanh", name: "h").Call(x);
            var m = new Model(x, h, kind, DType.Float64, 2);
            m.AddFeedback(h, h, 1, kind);
            return m;
        }

        var identity = Build("identity");
        Assert.Single(identity.Network.Connections.OfType<IdentityConnection>());
        Assert.Equal(2, identity.Parameters.Count); // h's weight and bias only
        var dense = Build("dense");
        Assert.Empty(dense.Network.Connections.OfType<IdentityConnection>());
        Assert.Equal(4, dense.Parameters.Count);

        // the identity edge adds h(t-1) before the activation: h(1) = tanh(W x(1) + b + h(0)), computed here by hand
        var xs = X(7, 2, 1, 3);
        var hs = identity.Forward(xs);
        var w = identity.Parameters.Single(t => t.Rank == 2).ToDoubleArray();
        var bias = identity.Parameters.Single(t => t.Rank == 1).ToDoubleArray();
        var xv = xs.ToDoubleArray();
        var h0 = new double[3];
        for (int step = 0; step < 2; step++)
        {
            var h1 = new double[3];
            for (int j = 0; j < 3; j++)
            {
                double z = bias[j] + h0[j];
                for (int i = 0; i < 3; i++) z += xv[step * 3 + i] * w[j * 3 + i]; // W [out, in]
                h1[j] = Math.Tanh(z);
            }
            h0 = h1;
        }
        var last = hs.ToDoubleArray().AsSpan(3, 3).ToArray();
        for (int j = 0; j < 3; j++) Assert.Equal(h0[j], last[j], 1e-12);
    }

    [Fact]
    public void OneSequenceInput_MakesTheOutputsEveryStep()
    {
        var s = Input(3, sequence: true, name: "s");
        var c = Input(3, name: "c");
        var sum = new Add(name: "sum").Call(new Dense(2, name: "ds").Call(s), new Dense(2, name: "dc").Call(c));
        var m = new Model([s, c], [sum], "mixed", DType.Float64, 1);
        var y = m.Forward([X(8, 4, 2, 3), X(9, 2, 3)], false)[0];
        Assert.Equal([4, 2, 2], y.ShapeArray);
    }

    [Fact]
    public void Predict_OnSeveralOutputs_SaysToCallForward()
    {
        var x = Input(3, name: "x");
        var m = new Model([x], [new Dense(2, name: "a").Call(x), new Dense(1, name: "b").Call(x)], "two", DType.Float64);
        Assert.Equal("Model 'two' has 2 outputs; call Forward(Tensor[], bool).",
                     Assert.Throws<InvalidOperationException>(() => m.Predict(X(1, 4, 3))).Message);
    }

    [Fact]
    public void WeightFiles_CarryTheirMetadata_AndListTheNamesInRefusals()
    {
        var m = new Sequential("s", DType.Float32, 3, new Dense(3, name: "fc"), new Dense(2, name: "out")) { InputShape = [4] };
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "w.safetensors");
            m.SaveWeights(path, new Dictionary<string, string> { ["note"] = "hi" });
            var f = SafeTensorFile.Read(path);
            Assert.Equal("flexnet-weights", f.Metadata["format"]);
            Assert.Equal("s", f.Metadata["model"]);
            Assert.Equal("hi", f.Metadata["note"]);

            var names = f.Tensors.Select(e => e.Name).ToList();
            var dropped = names[^1];
            SafeTensorWriter.Write(path, f.Metadata, f.Tensors.Where(e => e.Name != dropped).ToList());
            Assert.Equal($"{path}: no tensor '{dropped}' for model 's' (the file has {names[0]}, {names[1]}, {names[2]}).",
                         Assert.Throws<ModelFormatException>(() => m.LoadWeights(path)).Message);

            var extra = f.Tensors.ToList();
            extra.Add(SafeTensorEntry.FromFloats("zz.extra", [1], [0f]));
            SafeTensorWriter.Write(path, f.Metadata, extra);
            var state = m.StateDict().Keys.ToArray();
            Assert.Equal(4, state.Length);
            Assert.Equal($"{path}: tensor 'zz.extra' does not belong to model 's' (its tensors: {state[0]}, {state[1]}, {state[2]}, {state[3]}).",
                         Assert.Throws<ModelFormatException>(() => m.LoadWeights(path)).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
        Assert.StartsWith("Model 's' (Sequential)\n", m.Summary());
    }

    [Fact]
    public void Compile_BuildsWhatItCan_AndSetsTheTrainerUp()
    {
        var withShape = new Sequential("a", DType.Float64, 7, new Dense(2, name: "d")) { InputShape = [3] };
        withShape.Compile("mse");
        Assert.True(withShape.IsBuilt);
        var traced = new Traced("b", seed: 0);
        traced.Compile("mse");
        Assert.False(traced.IsBuilt);
        var x = Input(3, name: "x");
        var functional = new Model(x, new Dense(2, name: "d").Call(x), "c", DType.Float64);
        functional.Compile("mse");
        Assert.True(functional.IsBuilt);

        var sgd = new Sgd(0.1);
        withShape.Compile(new MeanSquaredError(), sgd);
        withShape.Fit(X(1, 4, 3), X(2, 4, 2), epochs: 1, verbose: 0);
        var o = withShape.CompiledTrainer!.Options;
        Assert.Same(sgd, o.Optimizer);
        Assert.Equal(7UL, o.Seed);
        Assert.Equal(0, o.InputBatchAxis);

        traced.Compile(new MeanSquaredError());
        traced.Fit(X(3, 4, 3), X(4, 4, 2), epochs: 1, verbose: 0);
        Assert.IsType<Adam>(traced.CompiledTrainer!.Options.Optimizer);
        Assert.Equal(1UL, traced.CompiledTrainer.Options.Seed); // seed 0 trains with seed 1

        // a sequence model with every step's output: inputs and targets [T, N, F], batch axis 1 for both
        var seq = new Traced("d") { SequenceInput = true };
        seq.Compile("mse");
        var sx = X(5, 3, 4, 3);
        var sy = X(6, 3, 4, 2);
        seq.Fit(sx, sy, epochs: 1, batchSize: 2, verbose: 0);
        Assert.Equal(1, seq.CompiledTrainer!.Options.InputBatchAxis);
        Assert.Equal(1, seq.CompiledTrainer.Options.TargetBatchAxis);
        // Evaluate batches along N too: with 2 samples a batch, its loss is the mean over all 24 values, computed here
        var p = seq.Predict(sx).ToDoubleArray();
        var t = sy.ToDoubleArray();
        double sse = 0;
        for (int i = 0; i < t.Length; i++) sse += (p[i] - t[i]) * (p[i] - t[i]);
        Assert.Equal(sse / t.Length, seq.Evaluate(sx, sy, batchSize: 2)["loss"], 1e-12);

        // a sequence model with the last step's output: targets [N, F]
        var last = new Sequential("e", DType.Float64, 1, new LSTM(3, returnSequences: false, name: "l"), new Dense(2, name: "o"));
        last.Compile("mse");
        last.Fit(sx, X(7, 4, 2), epochs: 1, batchSize: 2, verbose: 0);
        Assert.Equal(1, last.CompiledTrainer!.Options.InputBatchAxis);
        Assert.Equal(0, last.CompiledTrainer.Options.TargetBatchAxis);
    }

    /// <summary>A subclass registered under a factory that names it differently from the saved model.</summary>
    public sealed class Renamed(string name) : Model(name, DType.Float64, 4)
    {
        protected override SymbolicTensor Forward(SymbolicTensor x) => new Dense(2, name: "d").Call(x);
    }

    [Fact]
    public void Freeze_Refusals_NameTheModelAndTheReason()
    {
        var plain = new Traced("plain") { InputShape = [3] };
        Assert.Equal("Model 'plain' cannot be frozen: a frozen model is a private copy made through the model file (in memory), and model 'plain' is a " +
                     $"{typeof(Traced).FullName}, a subclass the model file cannot rebuild unless it is registered: call " +
                     "ModelRegistry.Register<Traced>(\"traced\", config => new Traced(...)) once before saving and loading, and override GetConfig() to return its constructor arguments.",
                     Assert.Throws<GraphException>(() => plain.Freeze()).Message);

        ModelRegistry.Register("mgt16_renamed", _ => new Renamed("factory"));
        var renamed = new Renamed("saved") { InputShape = [3] };
        Assert.Equal("Model 'saved' cannot be frozen: a frozen model is a private copy made through the model file (in memory), and model file " +
                     "'frozen copy of model 'saved'': the rebuilt model is 'factory' (Float64); the file describes 'saved' (Float64).",
                     Assert.Throws<GraphException>(() => renamed.Freeze()).Message);

        var stateful = new Sequential("st", DType.Float64, 1, new Dense(2, name: "d")) { InputShape = [3] };
        stateful.Network.Stateful = true;
        Assert.Equal("Model 'st' cannot be frozen: its network is stateful (Predict would carry the recurrent state from one call to the next), " +
                     "and a frozen model is a pure function of its input; set Network.Stateful = false first.",
                     Assert.Throws<GraphException>(() => stateful.Freeze()).Message);
    }

    [Fact]
    public void Freeze_KeepsExplicitSteps()
    {
        var x = Input(3, name: "x");
        var h = new Dense(3, "tanh", name: "h").Call(x);
        var m = new Model(x, h, "steps", DType.Float64, 5);
        m.AddFeedback(h, h, 1, "dense");
        m.Network.Steps = 4;
        var input = X(1, 2, 3);
        using var frozen = m.Freeze();
        var expected = m.Predict(input).ToDoubleArray();
        Assert.Equal(expected, frozen.Predict(input).ToDoubleArray());
        m.Network.Steps = 1; // one step gives another output: the steps matter to this model
        Assert.NotEqual(expected, m.Predict(input).ToDoubleArray());
    }

    /// <summary>Holds the thread that runs it inside Predict until released (armed only in the frozen copy's calls).</summary>
    private sealed class Gate(int size, string? name = null) : CustomLayer(size, name: name)
    {
        internal static readonly ManualResetEventSlim Entered = new(false);
        internal static readonly ManualResetEventSlim Release = new(false);
        internal static volatile bool Armed;

        public override string Form => "mgt16_gate";

        protected override void Setup() { }

        protected override Tensor Transform(Tensor input)
        {
            if (Armed)
            {
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(30));
            }
            return input;
        }
    }

    [Fact]
    public async Task FrozenModel_RefusesASecondThreadWhileOneRuns()
    {
        LayerRegistry.Register("mgt16_gate", "test-only: blocks inside Predict", ["size", "activation"], a =>
        {
            _ = a.Activation("linear"); // a custom layer's configuration holds these too
            _ = a.Init();
            return new Gate(a.Int("size"), a.Name);
        });
        var m = new Sequential("gated", DType.Float64, 1, new Gate(3, name: "g")) { InputShape = [3] };
        using var frozen = m.Freeze();
        var x = X(1, 2, 3);
        Gate.Armed = true;
        try
        {
            var first = Task.Run(() => frozen.Predict(x), TestContext.Current.CancellationToken);
            Assert.True(Gate.Entered.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
            Assert.Equal("Frozen model 'gated': Predict is already running on another thread; a frozen model runs one call at a time " +
                         "(freeze one snapshot per thread).", Assert.Throws<InvalidOperationException>(() => frozen.Predict(x)).Message);
            Gate.Release.Set();
            Assert.Equal(x.ToDoubleArray(), (await first).ToDoubleArray());
        }
        finally
        {
            Gate.Armed = false;
            Gate.Release.Set();
        }
        Assert.Equal(x.ToDoubleArray(), frozen.Predict(x).ToDoubleArray()); // the flag is free again
    }

    [Fact]
    public void FrozenModel_AfterDispose_RefusesPredict_AndSaysSo()
    {
        var m = new Sequential("fz", DType.Float64, 1, new Dense(2, name: "d")) { InputShape = [3] };
        var frozen = m.Freeze();
        var x = X(1, 4, 3);
        var first = frozen.Predict(x).ToDoubleArray();
        Assert.Equal(first, frozen.Predict(x).ToDoubleArray()); // a second call runs (the busy flag was cleared)
        Assert.Equal("FrozenModel 'fz' (Float64)", frozen.ToString());
        frozen.Dispose();
        Assert.Equal("FrozenModel 'fz' (Float64, disposed)", frozen.ToString());
        Assert.Throws<ObjectDisposedException>(() => frozen.Predict(x));
        frozen.Dispose(); // twice is fine
    }
}
