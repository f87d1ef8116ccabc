using System.Globalization;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>
/// The built-in layer kind <c>recurrent</c> of <c>.flexnet</c> files: a <see cref="RecurrentCellLayer"/> with one cell of
/// any of FlexNet's recurrent kinds (<c>rnn</c>, <c>gru</c>, <c>lstm</c>, <c>mrnn</c>, <c>mut1</c>, <c>scrn</c>,
/// <c>rrnn</c>, <c>clockwork</c>), or two of the same options for a bidirectional layer (option
/// <c>bidirectional = true</c>, written only then; made by <see cref="BidirectionalLayer"/>). Options: cell, units,
/// return_sequences, go_backwards, input_width (optional) and per cell: activation (rnn, mrnn, scrn, rrnn, clockwork),
/// peepholes (lstm), factors (mrnn, optional), rate (scrn: vector, uniform, log; rrnn: also matrix), periods
/// (clockwork, e.g. <c>1,2,4</c>). Parameters are the cell's, by their short names (torch's for rnn/gru/lstm:
/// <c>weight_ih_l0</c>, ...; theanets' for the others: <c>xh</c>, <c>hh</c>, ...); a fixed update rate (scrn, rrnn with
/// rate uniform or log: drawn at random when the cell is made, never trained) is stored as <c>fixed_rate</c>, so a
/// loaded layer computes exactly what the saved one did. The backward cell of a bidirectional layer adds the same names
/// with the suffix <c>_reverse</c> (torch's rule).
/// </summary>
internal static class RecurrentLayerKind
{
    internal const string Kind = "recurrent";

    internal static readonly LayerKinds.Entry Entry = new(Kind, typeof(RecurrentCellLayer), Describe, Create, Shapes, OwnTensors);

    private static readonly string[] Common = ["cell", "units", "return_sequences", "go_backwards", "input_width", "bidirectional"];

    private static Dictionary<string, string> Describe(Layer l)
    {
        var r = (RecurrentCellLayer)l;
        var d = Options(r, r.Cell);
        if (r.BackwardLayer is { } bw)
        {
            // the backward half runs reversed whatever its own direction flag says, and its input width is the node's
            var db = Options(r, bw);
            foreach (var key in d.Keys.Union(db.Keys))
                if (key is not ("go_backwards" or "input_width") && (!d.TryGetValue(key, out var a) || !db.TryGetValue(key, out var b) || a != b))
                    throw new GraphException($"Bidirectional recurrent layer '{l.Name}': its backward half ({bw}) differs from its forward half ({r.Cell}) in '{key}'; " +
                                             "a .flexnet file holds only a pair of equal halves (the default of BidirectionalLayer).");
            d["bidirectional"] = "true";
        }
        return d;
    }

    private static Dictionary<string, string> Options(RecurrentCellLayer l, RecurrentLayer c)
    {
        string cell = c switch
        {
            RNN => "rnn", GRU => "gru", LSTM => "lstm", MRNN => "mrnn", MUT1 => "mut1", SCRN => "scrn", RRNN => "rrnn", Clockwork => "clockwork",
            _ => throw new GraphException($"Recurrent layer '{l.Name}' ({l.Kind}): its cell {c.GetType().FullName} is not one of FlexNet's recurrent kinds " +
                                          "(rnn, gru, lstm, mrnn, mut1, scrn, rrnn, clockwork), so a .flexnet file cannot describe it."),
        };
        var d = new Dictionary<string, string>
        {
            ["cell"] = cell,
            ["units"] = Int(c.Units),
            ["return_sequences"] = c.ReturnSequences ? "true" : "false",
            ["go_backwards"] = c.GoBackwards ? "true" : "false",
        };
        if (c.InputWidth is int w) d["input_width"] = Int(w);
        switch (c)
        {
            case RNN rnn: d["activation"] = rnn.Activation.ToString().ToLowerInvariant(); break;
            case LSTM lstm: d["peepholes"] = lstm.Peepholes ? "true" : "false"; break;
            case MRNN m:
                d["activation"] = Activation("MRNN", m.Activation);
                if (m.Factors is int f) d["factors"] = Int(f);
                break;
            case SCRN s: (d["activation"], d["rate"]) = (Activation("SCRN", s.Activation), s.Rate.ToLowerInvariant()); break;
            case RRNN rr: (d["activation"], d["rate"]) = (Activation("RRNN", rr.Activation), rr.Rate.ToLowerInvariant()); break;
            case Clockwork k: (d["activation"], d["periods"]) = (Activation("Clockwork", k.Activation), string.Join(",", k.Periods.Select(Int))); break;
        }
        return d;
    }

    private static string Int(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Activation(string layer, string a) => RnnLike.ParseActivation(layer, a).ToString().ToLowerInvariant();

    private static RecurrentCellLayer Create(string name, IReadOnlyDictionary<string, string> o)
    {
        bool bidirectional = o.ContainsKey("bidirectional") && BuiltInLayerKinds.Flag(o, "bidirectional");
        if (!bidirectional) return new RecurrentCellLayer(Config(o, name), name);
        if (BuiltInLayerKinds.Flag(o, "go_backwards"))
            throw new FormatException("option 'go_backwards' is true; a bidirectional layer's forward half runs forward (its backward half runs reversed).");
        return new RecurrentCellLayer(Config(o, name + "_forward"), Config(o, name + "_backward"), name, null);
    }

    /// <summary>The cell configuration the options describe (checks every option; allocates nothing beyond the options).</summary>
    private static RecurrentLayer Config(IReadOnlyDictionary<string, string> o, string name)
    {
        string cell = o.TryGetValue("cell", out var k) ? k : throw new FormatException("option 'cell' is missing.");
        int units = BuiltInLayerKinds.Count(o, "units");
        bool seq = BuiltInLayerKinds.Flag(o, "return_sequences"), back = BuiltInLayerKinds.Flag(o, "go_backwards");
        int? width = o.ContainsKey("input_width") ? BuiltInLayerKinds.Count(o, "input_width") : null;
        switch (cell)
        {
            case "rnn":
                Only(o, "activation");
                return new RNN(units, Act(o), seq, back, name, null, width);
            case "gru":
                Only(o);
                return new GRU(units, seq, back, name, null, width);
            case "lstm":
                Only(o, "peepholes");
                return new LSTM(units, seq, back, BuiltInLayerKinds.Flag(o, "peepholes"), name, null, width);
            case "mrnn":
                Only(o, "activation", "factors");
                return new MRNN(units, o.ContainsKey("factors") ? BuiltInLayerKinds.Count(o, "factors") : null, Act(o), seq, back, name, null, width);
            case "mut1":
                Only(o);
                return new MUT1(units, seq, back, name, null, width);
            case "scrn":
                Only(o, "activation", "rate");
                return new SCRN(units, Rate(o, "vector", "uniform", "log"), Act(o), seq, back, name, null, width);
            case "rrnn":
                Only(o, "activation", "rate");
                return new RRNN(units, Rate(o, "matrix", "vector", "uniform", "log"), Act(o), seq, back, name, null, width);
            case "clockwork":
                Only(o, "activation", "periods");
                var periods = Periods(o);
                if (units % periods.Length != 0)
                    throw new FormatException($"option 'units' ({units}) is not a multiple of the number of periods ({periods.Length}).");
                return new Clockwork(units, periods, Act(o), seq, back, name, null, width);
            default:
                throw new FormatException($"option 'cell' is '{Short(cell)}', not rnn, gru, lstm, mrnn, mut1, scrn, rrnn or clockwork.");
        }
    }

    private static void Only(IReadOnlyDictionary<string, string> o, params string[] own) => BuiltInLayerKinds.Only(o, [.. Common, .. own]);

    private static string Short(string s) => s.Length > 40 ? s[..40] + "..." : s;

    private static string Act(IReadOnlyDictionary<string, string> o)
    {
        string act = o.TryGetValue("activation", out var a) ? a : throw new FormatException("option 'activation' is missing.");
        if (act is not ("tanh" or "relu" or "sigmoid" or "linear"))
            throw new FormatException($"option 'activation' is '{Short(act)}', not tanh, relu, sigmoid or linear.");
        return act;
    }

    private static string Rate(IReadOnlyDictionary<string, string> o, params string[] allowed)
    {
        string rate = o.TryGetValue("rate", out var r) ? r : throw new FormatException("option 'rate' is missing.");
        if (Array.IndexOf(allowed, rate) < 0) throw new FormatException($"option 'rate' is '{Short(rate)}', not {string.Join(", ", allowed)}.");
        return rate;
    }

    private static int[] Periods(IReadOnlyDictionary<string, string> o)
    {
        string text = o.TryGetValue("periods", out var p) ? p : throw new FormatException("option 'periods' is missing.");
        var parts = text.Split(',');
        var periods = new int[parts.Length]; // at most one per two characters of the file's text
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out periods[i]) || periods[i] < 1)
                throw new FormatException($"option 'periods' is '{Short(text)}', not a comma-separated list of integers from 1 to {int.MaxValue}.");
        return periods;
    }

    /// <summary>Stepped input [I] → [H]; whole-sequence input [T, F] → [T, H] or [H] (2H for a bidirectional layer, which
    /// needs the whole sequence); the cell's parameters in its order, then the backward cell's (<c>_reverse</c>).</summary>
    private static LayerShapes Shapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        var layer = Create("check", o);
        var c = layer.Cell;
        if (input.Length is not (1 or 2)) throw new ArgumentException($"a recurrent layer reads vectors [I] or sequences [T, F]; got rank {input.Length}.");
        bool bidirectional = layer.BackwardLayer is not null;
        if (bidirectional && input.Length != 2) throw new ArgumentException("a bidirectional recurrent layer reads a whole sequence [T, F]; got a vector input.");
        int h = c.Units, i = input[^1];
        var ps = CellShapes(c, i, "");
        if (bidirectional) ps.AddRange(CellShapes(c, i, "_reverse"));
        int outH = bidirectional ? checked(2 * h) : h;
        int[] output = input.Length == 2 && c.ReturnSequences ? [input[0], outH] : [outH];
        return new LayerShapes(output, ps);
    }

    private static List<(string, int[])> CellShapes(RecurrentLayer c, int i, string suffix)
    {
        int h = c.Units;
        int[] hi = [h, i], hh = [h, h], v = [h];
        List<(string, int[])> ps;
        switch (c)
        {
            case RNN or GRU or LSTM:
                int gh = checked((c switch { LSTM => 4, GRU => 3, _ => 1 }) * h);
                ps = [("weight_ih_l0", [gh, i]), ("weight_hh_l0", [gh, h]), ("bias_ih_l0", [gh]), ("bias_hh_l0", [gh])];
                if (c is LSTM { Peepholes: true }) ps.AddRange([("ci", v), ("cf", v), ("co", v)]);
                break;
            case MRNN m:
                int f = m.Factors ?? (int)Math.Ceiling(Math.Sqrt(h));
                ps = [("xh", hi), ("xf", [f, i]), ("hf", [f, h]), ("fh", [h, f]), ("b", v)];
                break;
            case MUT1:
                ps = [("xh", hi), ("xr", hi), ("xz", hi), ("hh", hh), ("hr", hh), ("bh", v), ("br", v), ("bz", v)];
                break;
            case SCRN s:
                ps = [("w", [checked(2 * h), i]), ("sh", hh), ("hh", hh), ("ho", hh), ("so", hh), ("b", v)];
                ps.Add(s.Rate == "vector" ? ("r", v) : ("fixed_rate", v));
                break;
            case RRNN r:
                ps = [("xh", hi), ("hh", hh), ("b", v)];
                if (r.Rate == "matrix") ps.AddRange([("r", v), ("xr", hi)]);
                else ps.Add(r.Rate == "vector" ? ("r", v) : ("fixed_rate", v));
                break;
            case Clockwork:
                ps = [("xh", hi), ("hh", hh), ("b", v)];
                break;
            default:
                throw new ArgumentException($"cell {c.GetType().Name} has no file description.");
        }
        for (int k = 0; k < ps.Count; k++) ps[k] = (ps[k].Item1 + suffix, ps[k].Item2);
        return ps;
    }

    /// <summary>The layer's tensors by their short names in the file: each cell parameter by the part of its name after
    /// the last '.', a fixed rate as <c>fixed_rate</c>; the backward cell's with <c>_reverse</c>.</summary>
    private static IReadOnlyList<(string Name, Tensor Tensor)> OwnTensors(Layer l)
    {
        var r = (RecurrentCellLayer)l;
        var list = new List<(string, Tensor)>();
        Add(r.ForwardCell, "");
        Add(r.BackwardCell, "_reverse");
        return list;

        void Add(IRecurrentCell? cell, string suffix)
        {
            if (cell is null) return;
            foreach (var p in cell.Parameters)
            {
                string n = p.Name ?? "";
                list.Add((n[(n.LastIndexOf('.') + 1)..] + suffix, p));
            }
            var rate = cell switch { ScrnCell s => s.FixedRate, RrnnCell rr => rr.FixedRate, _ => null };
            if (rate is not null) list.Add(("fixed_rate" + suffix, rate));
        }
    }
}
