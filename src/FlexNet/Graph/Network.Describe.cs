using FlexNet.Connections;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Graph;

/// <content>Seeing a network: the summary table and the Graphviz drawing.</content>
public sealed partial class Network
{
    // ------------------------------------------------------------------ seeing the graph

    /// <summary>A table of the layers (kind, shape, activation, combine rule, parameters), the connections (kind,
    /// shapes, delay, parameters) and the total parameter count.</summary>
    /// <returns>Multi-line text.</returns>
    public string Summary()
    {
        Build();
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"Network '{Name}' ({_dtype}, {_steps} step{(_steps == 1 ? "" : "s")}{(_truncate is int k ? $", truncated BPTT {k}" : "")}{(Stateful ? ", stateful" : "")})");
        sb.AppendLine($"{"Layer",-16} {"Kind",-18} {"Shape",-16} {"Activation",-11} {"Combine",-8} {"Params",10}");
        foreach (var l in _layers)
            sb.AppendLine($"{l.Name,-16} {l.Kind,-18} {ShapeUtil.Format(l.OutputShape!),-16} {l.Activation,-11} {l.Combine,-8} {l.Parameters.Sum(p => (long)p.Length),10}");
        sb.AppendLine($"{"Connection",-24} {"Kind",-20} {"From -> To shape",-26} {"Delay",5} {"Params",10}");
        foreach (var c in _connections)
            sb.AppendLine($"{c.Name,-24} {c.Kind,-20} {Connection.FormatShape(c.SourceShape) + " -> " + Connection.FormatShape(c.OutputShape),-26} {c.Delay,5} {c.Parameters.Sum(p => (long)p.Length),10}");
        if (_outputs.Count > 0)
            sb.AppendLine("Outputs: " + string.Join(", ", _outputs.Select(o => $"{o.Layer.Name} ({(o.Mode == OutputMode.AllSteps ? "every step" : "last step")})")));
        sb.AppendLine($"Total parameters: {ParameterCount}");
        return sb.ToString();
    }

    /// <summary>The graph in Graphviz DOT: layers as boxes with kind and shape, connections labelled with their kind;
    /// recurrent connections (delay ≥ 1) dashed, labelled with their delay and not constraining the layout.</summary>
    /// <returns>DOT text (render with <c>dot -Tsvg</c>).</returns>
    public string ToDot()
    {
        Build();
        static string Q(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"digraph {Q(Name)} {{");
        sb.AppendLine("  rankdir=TB;");
        sb.AppendLine("  node [shape=box, fontname=\"Helvetica\"];");
        foreach (var l in _layers)
        {
            string label = $"{l.Name}\\n{l.Kind} {ShapeUtil.Format(l.OutputShape!)}" +
                           (l.Activation == "linear" ? "" : $"\\n{l.Activation}") + (l.Combine == CombineRule.Sum ? "" : $" ({l.Combine})");
            sb.AppendLine($"  {Q(l.Name)} [label=\"{label.Replace("\"", "\\\"")}\"{(l is InputLayer ? ", shape=ellipse" : "")}];");
        }
        foreach (var c in _connections)
        {
            string attrs = c.Delay == 0
                ? $"label={Q(c.Kind)}"
                : $"label={Q($"{c.Kind} d={c.Delay}")}, style=dashed, color=\"#c0392b\", constraint=false";
            sb.AppendLine($"  {Q(c.From.Name)} -> {Q(c.To.Name)} [{attrs}];");
        }
        sb.AppendLine("}");
        return sb.ToString();
    }

    /// <summary>e.g. <c>Network 'Demo': 6 layers, 7 connections</c>.</summary>
    /// <returns>A one-line description.</returns>
    public override string ToString() => $"Network '{Name}': {_layers.Count} layers, {_connections.Count} connections";
}
