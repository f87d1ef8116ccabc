using System.Buffers.Binary;
using System.Text;

namespace FlexNet.Onnx.Tests;

/// <summary>A protobuf reader written for the tests from the wire format and onnx.proto's field numbers, independent of
/// the library's ProtoWriter: the parts of a ModelProto the tests look at (nodes, initializers, value names, doc strings,
/// loop bodies).</summary>
internal static class OnnxProto
{
    internal sealed record Attribute(string Name, long? Int, float? Float, string? Text, List<long> Ints, Graph? Body);

    internal sealed record Node(string Op, string Name, List<string> Inputs, List<string> Outputs, List<Attribute> Attributes)
    {
        internal Attribute Attr(string name) => Attributes.Single(a => a.Name == name);
    }

    internal sealed record Initializer(string Name, List<long> Dims, int DataType, byte[] Raw)
    {
        internal float[] Floats()
        {
            Assert.Equal(1, DataType);
            var v = new float[Raw.Length / 4];
            for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(Raw.AsSpan(4 * i));
            return v;
        }
    }

    /// <summary>A graph input or output: its name and declared shape, e.g. "[K, N, 5]" (numbers, or the names of symbolic
    /// dimensions), or "?" when no shape is declared.</summary>
    internal sealed record Value(string Name, string Shape);

    internal sealed record Graph(string Name, string? Doc, List<Node> Nodes, List<Initializer> Initializers, List<Value> Inputs, List<Value> Outputs)
    {
        /// <summary>The nodes of this graph and of every loop body in it.</summary>
        internal IEnumerable<Node> AllNodes() =>
            Nodes.SelectMany(n => new[] { n }.Concat(n.Attributes.Where(a => a.Body is not null).SelectMany(a => a.Body!.AllNodes())));
    }

    internal sealed record Model(long IrVersion, string Producer, long Opset, Graph Graph);

    internal static Model Read(byte[] bytes)
    {
        long ir = 0, opset = 0;
        string producer = "";
        Graph? graph = null;
        foreach (var (field, value, data) in Fields(bytes))
            switch (field)
            {
                case 1: ir = value; break;
                case 2: producer = Text(data); break;
                case 7: graph = ReadGraph(data); break;
                case 8:
                    foreach (var (f, v, _) in Fields(data)) if (f == 2) opset = v;
                    break;
            }
        return new Model(ir, producer, opset, graph ?? throw new InvalidDataException("no graph"));
    }

    private static Graph ReadGraph(byte[] bytes)
    {
        var g = new Graph("", null, [], [], [], []);
        string name = "";
        string? doc = null;
        foreach (var (field, _, data) in Fields(bytes))
            switch (field)
            {
                case 1: g.Nodes.Add(ReadNode(data)); break;
                case 2: name = Text(data); break;
                case 5: g.Initializers.Add(ReadInitializer(data)); break;
                case 10: doc = Text(data); break;
                case 11: g.Inputs.Add(ReadValue(data)); break;
                case 12: g.Outputs.Add(ReadValue(data)); break;
            }
        return g with { Name = name, Doc = doc };
    }

    private static Node ReadNode(byte[] bytes)
    {
        var n = new Node("", "", [], [], []);
        string op = "", name = "";
        foreach (var (field, _, data) in Fields(bytes))
            switch (field)
            {
                case 1: n.Inputs.Add(Text(data)); break;
                case 2: n.Outputs.Add(Text(data)); break;
                case 3: name = Text(data); break;
                case 4: op = Text(data); break;
                case 5: n.Attributes.Add(ReadAttribute(data)); break;
            }
        return n with { Op = op, Name = name };
    }

    private static Attribute ReadAttribute(byte[] bytes)
    {
        string name = "";
        long? i = null;
        float? f = null;
        string? s = null;
        Graph? g = null;
        var ints = new List<long>();
        foreach (var (field, value, data) in Fields(bytes))
            switch (field)
            {
                case 1: name = Text(data); break;
                case 2: f = BitConverter.Int32BitsToSingle((int)value); break;
                case 3: i = value; break;
                case 4: s = Text(data); break;
                case 6: g = ReadGraph(data); break;
                case 8: Repeated(ints, value, data); break;
            }
        return new Attribute(name, i, f, s, ints, g);
    }

    private static Initializer ReadInitializer(byte[] bytes)
    {
        var dims = new List<long>();
        int type = 0;
        string name = "";
        byte[] raw = [];
        foreach (var (field, value, data) in Fields(bytes))
            switch (field)
            {
                case 1: Repeated(dims, value, data); break;
                case 2: type = (int)value; break;
                case 8: name = Text(data); break;
                case 9: raw = data; break;
            }
        return new Initializer(name, dims, type, raw);
    }

    /// <summary>A repeated integer field, one value per field or packed into one length-delimited field.</summary>
    private static void Repeated(List<long> into, long value, byte[] packed)
    {
        if (packed.Length == 0) { into.Add(value); return; }
        for (int at = 0; at < packed.Length;) into.Add(Varint(packed, ref at));
    }

    /// <summary>ValueInfoProto: name (1), type (2) → TypeProto.tensor_type (1) → shape (2) → dim (1) → dim_value (1) or
    /// dim_param (2).</summary>
    private static Value ReadValue(byte[] bytes)
    {
        string name = "", shape = "?";
        foreach (var (field, _, data) in Fields(bytes))
            if (field == 1) name = Text(data);
            else if (field == 2)
                foreach (var (tf, _, tensor) in Fields(data))
                    if (tf == 1)
                        foreach (var (sf, _, dims) in Fields(tensor))
                            if (sf == 2)
                            {
                                var parts = new List<string>();
                                foreach (var (df, _, dim) in Fields(dims))
                                    if (df == 1)
                                        foreach (var (f, v, d) in Fields(dim))
                                            parts.Add(f == 1 ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : Text(d));
                                shape = "[" + string.Join(", ", parts) + "]";
                            }
        return new Value(name, shape);
    }

    private static string Text(byte[] data) => Encoding.UTF8.GetString(data);

    /// <summary>The fields of one message: (number, varint or fixed value, length-delimited bytes).</summary>
    private static List<(int Field, long Value, byte[] Data)> Fields(byte[] bytes)
    {
        var list = new List<(int, long, byte[])>();
        int at = 0;
        while (at < bytes.Length)
        {
            long key = Varint(bytes, ref at);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: list.Add((field, Varint(bytes, ref at), [])); break;
                case 1: list.Add((field, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at)), [])); at += 8; break;
                case 2:
                    int length = checked((int)Varint(bytes, ref at));
                    list.Add((field, 0, bytes.AsSpan(at, length).ToArray()));
                    at += length;
                    break;
                case 5: list.Add((field, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at)), [])); at += 4; break;
                default: throw new InvalidDataException($"wire type {wire} at byte {at}");
            }
        }
        return list;
    }

    private static long Varint(byte[] bytes, ref int at)
    {
        long v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = bytes[at++];
            v |= (long)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
    }
}
