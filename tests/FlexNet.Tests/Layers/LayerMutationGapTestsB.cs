using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Layers;

/// <summary>Gaps of the session-11 Layers mutation run in BidirectionalLayer (its output against a hand Elman recurrence
/// forward and on the flipped sequence, the names Run and Attach give its halves, the backward half's existing cell, and
/// GetConfig: the whole message for each non-default half on its own, the dictionary of a default pair with the forward
/// half's init settings), ConnectionRegistry (the built-in kinds, Register's and Create's checks with their whole
/// messages), Embedding/EmbeddingLayer, Flatten, GaussianNoise, GRU and LSTM (checks, forms, configurations).</summary>
public sealed class LayerMutationGapTestsB
{
    // ---------------------------------------------------------------- helpers

    /// <summary>A recurrent layer that reports a given configuration, as a custom recurrent layer may: the checks of
    /// <see cref="BidirectionalLayer.GetConfig"/> that do not read configurations must still tell its halves apart.</summary>
    private sealed class Posing(int units, bool returnSequences, bool goBackwards, string form, Func<IReadOnlyDictionary<string, object>> config,
                                string? name = null)
        : RecurrentLayer(units, returnSequences, goBackwards, name, null, null)
    {
        public override string Form => form;

        public override IReadOnlyDictionary<string, object>? GetConfig() => config();

        protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new GruCell(inputSize, Units, dtype, rng);

        public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) =>
            new Posing(Units, ReturnSequences, goBackwards, form, config, name);
    }

    private const string PosingForm = "lgb_posing_rnn";

    static LayerMutationGapTestsB() =>
        // a form whose fresh layer reports name, init, rng and an attribute: a forward half without them is still its default
        LayerRegistry.Register(PosingForm, "test-only recurrent form", ["size", "return_sequences"], a =>
        {
            int size = a.Int("size");
            bool seq = a.OptionalBool("return_sequences") ?? true;
            return new Posing(size, seq, false, PosingForm, () => D(("form", PosingForm), ("size", size), ("return_sequences", seq),
                                                                   ("name", "fresh"), ("init", "zeros"), ("rng", "5"), ("std", 0.5)));
        });

    private static Dictionary<string, object> D(params (string Key, object Value)[] kv) => kv.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    /// <summary>The configuration a default GRU(units) reports (no name).</summary>
    private static IReadOnlyDictionary<string, object> GruConfig(int units, bool seq = true) =>
        D(("form", "gru"), ("size", units), ("return_sequences", seq), ("direction", "forward"));

    private static void AssertConfig(IReadOnlyDictionary<string, object> expected, IReadOnlyDictionary<string, object>? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (k, v) in expected)
            Assert.True(Equals(v, actual[k]), $"config '{k}': expected {v} ({v.GetType().Name}), got {actual[k]} ({actual[k].GetType().Name})");
    }

    private static void AssertNotPlain(BidirectionalLayer bi, string halves, string workerForm)
    {
        var e = Assert.Throws<GraphException>(() => bi.GetConfig());
        Assert.Equal($"Bidirectional layer '{bi.Name}': its halves ({halves}) are not the '{workerForm}' defaults the 'bidirectional' form builds, so a model file cannot describe them.", e.Message);
    }

    /// <summary>Steps [T, ...width] of a time-major array in reverse order.</summary>
    private static double[] Flip(double[] a, int steps)
    {
        int width = a.Length / steps;
        var r = new double[a.Length];
        for (int t = 0; t < steps; t++) Array.Copy(a, t * width, r, (steps - 1 - t) * width, width);
        return r;
    }

    /// <summary>h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) over x [T, N, F] from h = 0, in plain loops: [T, N, H].</summary>
    private static double[] Elman(RnnCell cell, double[] x, int steps, int n, int f, double[]? h0 = null)
    {
        double[] wi = cell.WeightIh.ToDoubleArray(), wh = cell.WeightHh.ToDoubleArray(), bi = cell.BiasIh.ToDoubleArray(), bh = cell.BiasHh.ToDoubleArray();
        int hs = bi.Length;
        var y = new double[steps * n * hs];
        var h = h0 ?? new double[n * hs];
        for (int t = 0; t < steps; t++)
        {
            var next = new double[n * hs];
            for (int s = 0; s < n; s++)
                for (int o = 0; o < hs; o++)
                {
                    double z = bi[o] + bh[o];
                    for (int i = 0; i < f; i++) z += wi[o * f + i] * x[(t * n + s) * f + i];
                    for (int j = 0; j < hs; j++) z += wh[o * hs + j] * h[s * hs + j];
                    next[s * hs + o] = Math.Tanh(z);
                    y[(t * n + s) * hs + o] = next[s * hs + o];
                }
            h = next;
        }
        return y;
    }

    /// <summary>[a ; b] on the last axis of two row-major arrays with rows of widths wa and wb.</summary>
    private static double[] ConcatRows(double[] a, int wa, double[] b, int wb)
    {
        int rows = a.Length / wa;
        var r = new double[rows * (wa + wb)];
        for (int i = 0; i < rows; i++)
        {
            Array.Copy(a, i * wa, r, i * (wa + wb), wa);
            Array.Copy(b, i * wb, r, i * (wa + wb) + wa, wb);
        }
        return r;
    }

    // ---------------------------------------------------------------- BidirectionalLayer.Run

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public void RunIsTheForwardHalfBesideTheBackwardRecurrenceOfTheFlippedSequence(bool returnSequences, bool backwardGoesBackwards)
    {
        const int steps = 4, n = 2, f = 3;
        var fw = new RNN(3, returnSequences: returnSequences, name: "f");
        var bw = new RNN(2, returnSequences: returnSequences, goBackwards: backwardGoesBackwards, name: "b");
        var bi = new BidirectionalLayer(fw, bw, "bi");
        Assert.Same(bw, bi.Backward); // the given backward half, not a copy of the forward one
        var x = T.Rand(31, steps, n, f).Detach();
        var y = bi.Run(x);
        var xs = x.ToDoubleArray();
        var yf = Elman((RnnCell)fw.Cell!, xs, steps, n, f);
        var yb = Flip(Elman((RnnCell)bw.Cell!, Flip(xs, steps), steps, n, f), steps); // the backward half reads x_{T−1} first
        if (returnSequences)
        {
            Assert.Equal([steps, n, 5], y.ShapeArray);
            T.Close(ConcatRows(yf, 3, yb, 2), y.ToDoubleArray(), 1e-12, 1e-12, "bidirectional sequence");
        }
        else
        {
            // [fw at T−1 ; bw at 0]
            Assert.Equal([n, 5], y.ShapeArray);
            T.Close(ConcatRows(yf[((steps - 1) * n * 3)..], 3, yb[..(n * 2)], 2), y.ToDoubleArray(), 1e-12, 1e-12, "bidirectional last steps");
        }
    }

    [Fact]
    public void TheForwardHalfMustExistAndRunForward()
    {
        Assert.Equal("forward", Assert.Throws<ArgumentNullException>(() => new BidirectionalLayer(null!)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new BidirectionalLayer(new GRU(2, goBackwards: true), new GRU(2), "bi"));
        Assert.Equal("Bidirectional: the forward layer must not run backwards. (Parameter 'forward')", e.Message);
    }

    [Fact]
    public void RunKeepsTheNamesOfNamedHalvesAndNamesUnnamedOnesAfterTheLayer()
    {
        var x = T.Rand(32, 3, 2, 2).Detach();
        var named = new BidirectionalLayer(new RNN(2, name: "f"), new RNN(2, name: "b"), "bi");
        named.Run(x);
        Assert.Equal(("f", "b"), (named.Forward.Name, named.Backward.Name));
        Assert.Equal("f.weight_ih_l0", named.Forward.Cell!.Parameters[0].Name);
        Assert.Equal("b.weight_ih_l0", named.Backward.Cell!.Parameters[0].Name);

        var halves = new BidirectionalLayer(new RNN(2), name: "bi");
        halves.Run(x);
        Assert.Equal(("bi_forward", "bi_backward"), (halves.Forward.Name, halves.Backward.Name));

        var anonymous = new BidirectionalLayer(new GRU(2));
        anonymous.Run(x);
        Assert.Null(anonymous.Name);
        Assert.Equal(("bidirectional_forward", "bidirectional_backward"), (anonymous.Forward.Name, anonymous.Backward.Name));
        Assert.Equal("bidirectional_backward.weight_hh_l0", anonymous.Backward.Cell!.Parameters[1].Name);
    }

    [Fact]
    public void RunUsesTheBackwardHalfsExistingCellAndRejectsAnInputItDoesNotFit()
    {
        var bw = new RNN(2, name: "b");
        bw.Run(T.Rand(33, 3, 2, 3).Detach()); // its cell reads 3 features
        var cell = bw.Cell!;
        var bi = new BidirectionalLayer(new RNN(2, name: "f"), bw, "bi");
        var e = Assert.Throws<ShapeMismatchException>(() => bi.Run(T.Rand(34, 3, 2, 4).Detach()));
        Assert.Equal("Recurrence.Run(RnnCell(3 => 2, Tanh)): input of shape [3, 2, 4] is not [T, N, 3] with T >= 1.", e.Message);
        Assert.Same(cell, bw.Cell); // not replaced by a fresh cell for 4 features

        var fits = new BidirectionalLayer(new RNN(2, name: "g"), bw, "bj");
        fits.Run(T.Rand(35, 3, 2, 3).Detach());
        Assert.Same(cell, bw.Cell);
    }

    [Fact]
    public void BothHalvesOfANodeStartFromItsInitialStateInput()
    {
        const int steps = 3, n = 2, f = 3;
        var bi = new BidirectionalLayer(new RNN(2, name: "f"), name: "bi");
        var xin = Input([steps, f]);
        var hin = Input(2);
        var m = new Model([xin, hin], [bi.Call(xin, hin)], "m", DType.Float64);
        var x = T.Rand(38, n, steps, f).Detach();
        var h0 = T.Rand(39, n, 2).Detach();
        var y = m.Forward([x, h0], false)[0];
        Assert.Equal([n, steps, 4], y.ShapeArray);
        var xt = x.Transpose(0, 1).Contiguous().ToDoubleArray(); // time-major [T, N, F]
        var yf = Elman((RnnCell)bi.Forward.Cell!, xt, steps, n, f, h0.ToDoubleArray());
        var yb = Flip(Elman((RnnCell)bi.Backward.Cell!, Flip(xt, steps), steps, n, f, h0.ToDoubleArray()), steps);
        var expected = Tensor.FromArray(ConcatRows(yf, 2, yb, 2), steps, n, 4).Transpose(0, 1).Contiguous().ToDoubleArray();
        T.Close(expected, y.ToDoubleArray(), 1e-12, 1e-12, "bidirectional from h0");
    }

    [Fact]
    public void AttachKeepsTheNamesOfNamedHalves()
    {
        var bi = new BidirectionalLayer(new GRU(2, name: "f"), new GRU(3, name: "b"), "bi");
        var inp = Input([4, 3]);
        var m = new Model(inp, bi.Call(inp), "m", DType.Float64);
        var y = m.Forward(T.Rand(36, 2, 4, 3).Detach());
        Assert.Equal([2, 4, 5], y.ShapeArray);
        Assert.Equal(("f", "b"), (bi.Forward.Name, bi.Backward.Name));
        var names = m.NamedParameters.Select(p => p.Name).ToArray();
        Assert.Contains("f.weight_ih_l0", names);
        Assert.Contains("b.weight_ih_l0", names);
        Assert.DoesNotContain(names, p => p.StartsWith("bi_", StringComparison.Ordinal));
    }

    // ---------------------------------------------------------------- BidirectionalLayer.GetConfig

    [Theory]
    [InlineData("rnn", true)]
    [InlineData("gru", false)]
    [InlineData("lstm", true)]
    public void ADefaultPairIsDescribedByTheBidirectionalForm(string worker, bool seq)
    {
        RecurrentLayer half = worker switch
        {
            "rnn" => new RNN(3, returnSequences: seq),
            "gru" => new GRU(3, seq),
            _ => new LSTM(3, seq),
        };
        var bi = new BidirectionalLayer(half, name: "bi");
        Assert.Equal("bidirectional", bi.Form);
        Assert.Equal(!seq, bi.ReturnsLastStep);
        AssertConfig(D(("form", "bidirectional"), ("name", "bi"), ("worker", worker), ("size", 6), ("return_sequences", seq)), bi.GetConfig());
    }

    [Fact]
    public void ADefaultPairNamedAsTheLayerOrWithoutALayerNameIsDescribed()
    {
        AssertConfig(D(("form", "bidirectional"), ("name", "bi"), ("worker", "gru"), ("size", 4), ("return_sequences", true)),
            new BidirectionalLayer(new GRU(2, name: "bi_forward"), new GRU(2, name: "bi_backward"), "bi").GetConfig());
        // an unnamed layer has no name its halves must follow
        AssertConfig(D(("form", "bidirectional"), ("worker", "gru"), ("size", 4), ("return_sequences", true)),
            new BidirectionalLayer(new GRU(2, name: "x"), new GRU(2)).GetConfig());
        AssertConfig(D(("form", "bidirectional"), ("worker", "gru"), ("size", 4), ("return_sequences", true)),
            new BidirectionalLayer(new GRU(2), new GRU(2, name: "y")).GetConfig());
    }

    [Fact]
    public void TheForwardHalfsInitSettingsAreCopiedAndTheLayersOwnAreNot()
    {
        var init = new LayerInit("orthogonal", [new("std", 0.5), new("mean_bias_ih_l0", 0.25)], seed: 7);
        var bi = new BidirectionalLayer(new LSTM(2, init: init), name: "bi");
        AssertConfig(D(("form", "bidirectional"), ("name", "bi"), ("worker", "lstm"), ("size", 4), ("return_sequences", true),
                       ("init", "orthogonal"), ("rng", "7"), ("std", 0.5), ("mean_bias_ih_l0", 0.25)), bi.GetConfig());
        // the form reads no init of the pair itself: settings on the BidirectionalLayer object are not written
        var own = new BidirectionalLayer(new GRU(2), name: "own") { Init = new LayerInit("zeros", [new("std", 0.1)], seed: 3) };
        AssertConfig(D(("form", "bidirectional"), ("name", "own"), ("worker", "gru"), ("size", 4), ("return_sequences", true)), own.GetConfig());
    }

    [Fact]
    public void EachNonDefaultHalfOnItsOwnIsRefusedWithTheWholeMessage()
    {
        AssertNotPlain(new BidirectionalLayer(new GRU(2), new LSTM(2), "bi"), "GRU(?, 2), LSTM(?, 2)", "gru");
        AssertNotPlain(new BidirectionalLayer(new GRU(2), new GRU(3), "bi"), "GRU(?, 2), GRU(?, 3)", "gru");
        AssertNotPlain(new BidirectionalLayer(new GRU(2), new GRU(2, false), "bi"), "GRU(?, 2), GRU(?, 2, last)", "gru");
        AssertNotPlain(new BidirectionalLayer(new GRU(2), new GRU(2, goBackwards: true), "bi"), "GRU(?, 2), GRU(?, 2, backwards)", "gru");
        AssertNotPlain(new BidirectionalLayer(new LSTM(2, peepholes: true), name: "bi"), "LSTM(?, 2), LSTM(?, 2)", "lstm");
        AssertNotPlain(new BidirectionalLayer(new RNN(2, "relu"), name: "bi"), "RNN(?, 2), RNN(?, 2)", "rnn");
        AssertNotPlain(new BidirectionalLayer(new GRU(2, inputWidth: 5), name: "bi"), "GRU(?, 2), GRU(?, 2)", "gru");
        AssertNotPlain(new BidirectionalLayer(new GRU(2, name: "f"), name: "bi"), "GRU(f, 2), GRU(?, 2)", "gru");
        AssertNotPlain(new BidirectionalLayer(new GRU(2), new GRU(2, name: "b"), "bi"), "GRU(?, 2), GRU(b, 2)", "gru");
        AssertNotPlain(new BidirectionalLayer(new GRU(2, name: "bi_backward"), new GRU(2, name: "bi_forward"), "bi"), "GRU(bi_backward, 2), GRU(bi_forward, 2)", "gru");
    }

    [Fact]
    public void HalvesThatReportADefaultConfigurationAreStillCheckedForTypeDirectionUnitsAndSteps()
    {
        // each half reports the configuration of a default GRU(2): only the check of the property itself can refuse it
        AssertNotPlain(new BidirectionalLayer(new GRU(2), new Posing(2, true, false, "gru", () => GruConfig(2)), "bi"), "GRU(?, 2), Posing(?, 2)", "gru");
        AssertNotPlain(new BidirectionalLayer(new Posing(2, true, false, "gru", () => GruConfig(2)), new Posing(2, true, true, "gru", () => GruConfig(2)), "bi"),
                       "Posing(?, 2), Posing(?, 2, backwards)", "gru");
        AssertNotPlain(new BidirectionalLayer(new Posing(2, true, false, "gru", () => GruConfig(2)), new Posing(3, true, false, "gru", () => GruConfig(2)), "bi"),
                       "Posing(?, 2), Posing(?, 3)", "gru");
        AssertNotPlain(new BidirectionalLayer(new Posing(2, true, false, "gru", () => GruConfig(2)), new Posing(2, false, false, "gru", () => GruConfig(2)), "bi"),
                       "Posing(?, 2), Posing(?, 2, last)", "gru");
        // the same pair reporting honestly is a default pair
        AssertConfig(D(("form", "bidirectional"), ("name", "bi"), ("worker", "gru"), ("size", 4), ("return_sequences", true)),
            new BidirectionalLayer(new Posing(2, true, false, "gru", () => GruConfig(2)), new Posing(2, true, false, "gru", () => GruConfig(2)), "bi").GetConfig());
    }

    [Fact]
    public void AHalfWhoseConfigurationLacksAKeyOfTheDefaultIsRefused()
    {
        var lacking = D(("form", "gru"), ("size", 2), ("return_sequences", true)); // no direction
        AssertNotPlain(new BidirectionalLayer(new Posing(2, true, false, "gru", () => lacking), new GRU(2), "bi"), "Posing(?, 2), GRU(?, 2)", "gru");
        AssertNotPlain(new BidirectionalLayer(new Posing(2, true, false, "gru", () => GruConfig(2)), new Posing(2, true, false, "gru", () => lacking), "bi"),
                       "Posing(?, 2), Posing(?, 2)", "gru");
    }

    [Fact]
    public void NameInitRngAndAttributesOfTheDefaultNeedNotBeInAHalf()
    {
        // the fresh layer of the form reports name, init, rng and std; halves without them are its defaults
        var plain = D(("form", PosingForm), ("size", 2), ("return_sequences", true));
        var bi = new BidirectionalLayer(new Posing(2, true, false, PosingForm, () => plain), new Posing(2, true, false, PosingForm, () => plain), "bi");
        AssertConfig(D(("form", "bidirectional"), ("name", "bi"), ("worker", PosingForm), ("size", 4), ("return_sequences", true)), bi.GetConfig());
    }

    // ---------------------------------------------------------------- ConnectionRegistry

    [Fact]
    public void TheBuiltInKindsComeFirstWithTheirDescriptionsAndNoOptions()
    {
        var kinds = ConnectionRegistry.Kinds.Take(4).ToArray();
        Assert.Equal(["dense", "identity", "elementwise", "complement"], kinds.Select(k => k.Name));
        Assert.Equal(["Full matrix c = s·Wᵀ (default; in a dense layer spec it also owns the layer's bias)",
                      "c = s, no parameters (source and target shapes equal)",
                      "c = w ⊙ s, one weight per unit (starts at 1)",
                      "c = 1 − s, no parameters"], kinds.Select(k => k.Description));
        Assert.All(kinds, k => Assert.Empty(k.Parameters));
        foreach (var k in kinds) Assert.Same(k, ConnectionRegistry.Describe(k.Name.ToUpperInvariant()));
    }

    [Fact]
    public void TheDenseKindBuildsABiaslessFullMatrix()
    {
        var a = new InputLayer(3, name: "a");
        var b = new Layer(2, name: "b");
        var c = Assert.IsType<DenseConnection>(ConnectionRegistry.Create("dense", a, b, "c"));
        Assert.False(c.HasBias); // the dense layer owns the bias
        Assert.Equal("c", c.Name);
        Assert.IsType<IdentityConnection>(ConnectionRegistry.Create("identity", a, b, "i"));
        Assert.IsType<ElementwiseConnection>(ConnectionRegistry.Create("elementwise", a, b, "e"));
        Assert.IsType<ComplementConnection>(ConnectionRegistry.Create("complement", a, b, "k"));
    }

    [Theory]
    [InlineData("form")]
    [InlineData("name")]
    [InlineData("inputs")]
    [InlineData("size")]
    [InlineData("activation")]
    [InlineData("bias")]
    [InlineData("init")]
    [InlineData("rng")]
    [InlineData("connection")]
    [InlineData("BIAS")]
    [InlineData("std_u")]
    [InlineData("radius")]
    public void AnOptionNamedAsADenseArgumentIsRefusedWithTheWholeMessage(string key)
    {
        string name = $"LgbClash_{key}";
        var e = Assert.Throws<ArgumentException>(() => ConnectionRegistry.Register(name, "clashes", ["rank (int)", $"{key} (int)"], s => new IdentityConnection(s.From, s.To, 0, s.Name)));
        Assert.Equal($"Connection kind '{name}': option '{key}' clashes with an argument of the dense form. (Parameter 'parameters')", e.Message);
        Assert.False(ConnectionRegistry.IsRegistered(name));
    }

    [Fact]
    public void OptionKeysAreTheNonEmptyFirstWords()
    {
        var kind = new ConnectionKind("k", "d", ["(int) a note", "rank (int, required)", ",x", "alpha", " lead"], s => new IdentityConnection(s.From, s.To, 0, s.Name));
        Assert.Equal(["rank", "alpha"], kind.OptionKeys);
    }

    [Fact]
    public void RegisterChecksItsArgumentsAndKeepsTheDescription()
    {
        Func<ConnectionSite, Connection> f = s => new IdentityConnection(s.From, s.To, 0, s.Name);
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => ConnectionRegistry.Register(null!, "d", f)).ParamName);
        // the name is checked before the options
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => ConnectionRegistry.Register("  ", "d", ["size"], f)).ParamName);
        Assert.Equal("factory", Assert.Throws<ArgumentNullException>(() => ConnectionRegistry.Register("lgb_nofactory", "d", null!)).ParamName);
        Assert.False(ConnectionRegistry.IsRegistered("lgb_nofactory"));

        ConnectionRegistry.Register("LGB_Described", "kept as given", f);
        var kept = ConnectionRegistry.Describe("lgb_described")!;
        Assert.Equal(("lgb_described", "kept as given"), (kept.Name, kept.Description));
        Assert.Empty(kept.Parameters);
        ConnectionRegistry.Register("lgb_nulls", null!, null!, f);
        var nulls = ConnectionRegistry.Describe("lgb_nulls")!;
        Assert.Equal("", nulls.Description);
        Assert.Empty(nulls.Parameters);
        Assert.Empty(nulls.OptionKeys);
    }

    [Fact]
    public void AnUnknownKindListsTheRegisteredOnesCommaSeparated()
    {
        var e = Assert.Throws<SpecValidationException>(() => ConnectionRegistry.Require("nosuchkind", "spec.layers[2]"));
        Assert.StartsWith("spec.layers[2]: unknown connection kind 'nosuchkind'. Registered connection kinds: ", e.Message);
        Assert.Contains("complement, dense, elementwise, identity", e.Message);
        Assert.EndsWith(".", e.Message);
    }

    [Fact]
    public void CreateRefusesNullLayersAndAFactoryThatConnectsOtherLayers()
    {
        var a = new InputLayer(3, name: "a");
        var b = new Layer(3, name: "b");
        var other = new Layer(3, name: "z");
        Assert.Equal("from", Assert.Throws<ArgumentNullException>(() => ConnectionRegistry.Create("identity", null!, b, "c")).ParamName);
        Assert.Equal("to", Assert.Throws<ArgumentNullException>(() => ConnectionRegistry.Create("identity", a, null!, "c")).ParamName);

        ConnectionRegistry.Register("lgb_wrong_to", "test-only", s => new IdentityConnection(s.From, other, 0, s.Name));
        ConnectionRegistry.Register("lgb_wrong_from", "test-only", s => new IdentityConnection(other, s.To, 0, s.Name));
        ConnectionRegistry.Register("lgb_null", "test-only", s => null!);
        foreach (var kind in new[] { "lgb_wrong_to", "lgb_wrong_from", "lgb_null" })
        {
            var e = Assert.Throws<SpecValidationException>(() => ConnectionRegistry.Create(kind, a, b, "c"));
            Assert.Equal($"connection 'c' connection '{kind}': the factory of connection kind '{kind}' must return a connection from 'a' to 'b'.", e.Message);
        }
        var p = Assert.Throws<SpecValidationException>(() => ConnectionRegistry.Create("lgb_wrong_to", a, b, "c", path: "layers[1] 'h'"));
        Assert.Equal("layers[1] 'h' connection 'lgb_wrong_to': the factory of connection kind 'lgb_wrong_to' must return a connection from 'a' to 'b'.", p.Message);
    }

    // ---------------------------------------------------------------- Embedding, EmbeddingLayer

    [Theory]
    [InlineData(0, 4)]
    [InlineData(4, 0)]
    [InlineData(-2, 3)]
    [InlineData(3, -1)]
    public void EmbeddingSizesMustBothBePositive(int vocabulary, int dimension)
    {
        string message = $"Embedding: vocabulary and dimension must be positive. Received: {vocabulary}, {dimension} (Parameter 'vocabulary')";
        Assert.Equal(message, Assert.Throws<ArgumentOutOfRangeException>(() => new Embedding(vocabulary, dimension)).Message);
        Assert.Equal(message, Assert.Throws<ArgumentOutOfRangeException>(() => new EmbeddingLayer(vocabulary, dimension)).Message);
    }

    [Fact]
    public void EmbeddingOfOneRowAndOneColumnIsAllowed()
    {
        var e = new Embedding(1, 1, "e");
        Assert.Equal((1, 1, "embedding"), (e.Vocabulary, e.Dimension, e.Form));
        var l = new EmbeddingLayer(7, 3, "l");
        Assert.Equal((7, 3, "Embedding(7x3)"), (l.Vocabulary, l.Dimension, l.Kind));
        Assert.Equal("Embedding(1x1)", new EmbeddingLayer(1, 1).Kind);
    }

    [Fact]
    public void EveryAttachmentOfAnEmbeddingSharesOneInitialisedTable()
    {
        var emb = new Embedding(5, 3, "emb", new LayerInit("constant", [new("value", 0.25)]));
        var net = new Network("e", DType.Float64, 3);
        var x1 = net.Add(new InputLayer(4, name: "x1"));
        var x2 = net.Add(new InputLayer(2, name: "x2"));
        var n1 = Assert.IsType<EmbeddingLayer>(emb.Attach(net, x1));
        var n2 = Assert.IsType<EmbeddingLayer>(emb.Attach(net, x2));
        net.AddOutput(n1);
        net.AddOutput(n2);
        net.Compile();
        Assert.Same(n1.Weight, n2.Weight);
        Assert.Equal("emb.weight", n1.Weight!.Name);
        Assert.All(n1.Weight.ToDoubleArray(), v => Assert.Equal(0.25, v)); // the layer's init was applied
        Assert.Equal([n1.Weight], emb.Parameters);

        var w = Enumerable.Range(0, 15).Select(i => 0.5 * i - 3).ToArray();
        using (Autograd.NoGrad()) n1.Weight.CopyFrom(Tensor.FromArray(w, 5, 3));
        double[] i1 = [4, 0, 2, 2, 1, 3, 0, 4], i2 = [3, 1, 0, 2];
        var ys = net.Forward(Tensor.FromArray(i1, 2, 4), Tensor.FromArray(i2, 2, 2));
        double[] Lookup(double[] idx) => idx.SelectMany(k => w.Skip(3 * (int)k).Take(3)).ToArray();
        Assert.Equal(Lookup(i1), ys[0].ToDoubleArray());
        Assert.Equal(Lookup(i2), ys[1].ToDoubleArray());
    }

    [Fact]
    public void AnEmbeddingNodeCanLearnItsInitialState()
    {
        var net = new Network("e", DType.Float64, 3);
        var x = net.Add(new InputLayer(4, name: "x"));
        var node = Assert.IsType<EmbeddingLayer>(new Embedding(6, 2, "e").Attach(net, x));
        node.LearnInitialState = true;
        net.AddOutput(node);
        net.Compile();
        Assert.NotNull(node.InitialState);
        Assert.Equal([4, 2], node.InitialState.ShapeArray);
        Assert.All(node.InitialState.ToDoubleArray(), v => Assert.Equal(0, v));
        Assert.Equal(["e.initial_state", "e.weight"], node.Parameters.Select(p => p.Name!).Order(StringComparer.Ordinal));
    }

    // ---------------------------------------------------------------- Flatten, GaussianNoise, GRU, LSTM

    [Fact]
    public void FormsAndConfigurationsWriteOnlyTheArgumentsTheirFormsRead()
    {
        var init = new LayerInit("zeros", [new("std", 0.1)], seed: 3);
        var flat = new Flatten("f") { Init = init };
        Assert.Equal("flatten", flat.Form);
        AssertConfig(D(("form", "flatten"), ("name", "f")), flat.GetConfig());

        var noise = new GaussianNoise(0.25, "gn", 11) { Init = init };
        Assert.Equal("noise", noise.Form);
        AssertConfig(D(("form", "noise"), ("name", "gn"), ("std", 0.25), ("rng", "11")), noise.GetConfig());

        Assert.Equal("gru", new GRU(2).Form);
        var lstm = new LSTM(3, peepholes: true, name: "l");
        Assert.Equal("lstm", lstm.Form);
        AssertConfig(D(("form", "lstm"), ("name", "l"), ("size", 3), ("return_sequences", true), ("direction", "forward"), ("peepholes", true)), lstm.GetConfig());
        AssertConfig(D(("form", "lstm"), ("size", 2), ("return_sequences", false), ("direction", "backward"), ("peepholes", false)),
            new LSTM(2, false, true).GetConfig());
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(-1e-300)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void GaussianNoiseStdMustBeFiniteAndNotNegative(double std)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianNoise(std));
        Assert.Equal($"GaussianNoise: std must be >= 0. Received: {std} (Parameter 'std')", e.Message);
    }

    [Fact]
    public void GaussianNoiseOfZeroStdIsTheIdentityInTraining()
    {
        var noise = new GaussianNoise(0, "gn", 5);
        Assert.Equal(0, noise.Std);
        var inp = Input(3);
        var m = new Model(inp, noise.Call(inp), "m", DType.Float64);
        var x = T.Rand(37, 4, 3).Detach();
        Assert.Equal(x.ToDoubleArray(), m.Forward(x, training: true).ToDoubleArray());
    }
}
