using System.Reflection;
using System.Reflection.Emit;

namespace FlexNet.Tests.Architecture;

/// <summary>
/// Reads the type references of compiled code: for every type of an assembly (nested and compiler-generated ones
/// count as their declaring namespace), the types named by its base type, interfaces, fields, method signatures,
/// local variables and every type, method, field and token operand of its IL. What a namespace really uses, not
/// what its files' <c>using</c> lines say.
/// </summary>
internal static class TypeReferenceScanner
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                            BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Every reference from a type of <paramref name="assembly"/> to another type of the same assembly, as
    /// (from type, to type, where) triples.</summary>
    public static List<(Type From, Type To, string Where)> References(Assembly assembly)
    {
        var result = new List<(Type, Type, string)>();
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t is not null).ToArray()!; }
        foreach (var type in types)
        {
            var seen = new HashSet<Type>();
            void Add(Type? t, string where)
            {
                foreach (var u in Expand(t))
                    if (u.Assembly == assembly && u != type && seen.Add(u)) result.Add((type, u, where));
            }
            Add(type.BaseType, "base type");
            foreach (var i in type.GetInterfaces()) Add(i, "interface");
            foreach (var f in type.GetFields(Everything)) Add(f.FieldType, $"field {f.Name}");
            foreach (var m in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
            {
                if (m is MethodInfo mi) Add(mi.ReturnType, $"{m.Name} return");
                foreach (var p in m.GetParameters()) Add(p.ParameterType, $"{m.Name} parameter {p.Name}");
                MethodBody? body;
                try { body = m.GetMethodBody(); }
                catch (Exception) { continue; }
                if (body is null) continue;
                foreach (var l in body.LocalVariables) Add(l.LocalType, $"{m.Name} local");
                var il = body.GetILAsByteArray();
                if (il is null) continue;
                foreach (var t in OperandTypes(m, il)) Add(t, $"{m.Name} IL");
            }
        }
        return result;
    }

    /// <summary>A type with its element type and generic arguments, recursively.</summary>
    private static IEnumerable<Type> Expand(Type? t)
    {
        if (t is null) yield break;
        if (t.HasElementType)
        {
            foreach (var e in Expand(t.GetElementType())) yield return e;
            yield break;
        }
        if (t.IsGenericParameter) yield break;
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
        {
            foreach (var a in t.GetGenericArguments())
                foreach (var e in Expand(a)) yield return e;
            yield return t.GetGenericTypeDefinition();
            yield break;
        }
        yield return t;
    }

    /// <summary>The types named by the type, method, field and token operands of one method body.</summary>
    private static IEnumerable<Type> OperandTypes(MethodBase method, byte[] il)
    {
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            short value = il[pos++];
            if (value == 0xFE) value = unchecked((short)(0xFE00 | il[pos++]));
            if (!OpCodesByValue.TryGetValue(value, out var op)) yield break; // not IL we understand: stop this body
            switch (op.OperandType)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: pos += 1; break;
                case OperandType.InlineVar: pos += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: pos += 8; break;
                case OperandType.InlineSwitch:
                    int n = BitConverter.ToInt32(il, pos);
                    pos += 4 + 4 * n;
                    break;
                case OperandType.InlineType or OperandType.InlineTok or OperandType.InlineMethod or OperandType.InlineField:
                    int token = BitConverter.ToInt32(il, pos);
                    pos += 4;
                    MemberInfo? member = null;
                    try { member = module.ResolveMember(token, typeArgs, methodArgs); }
                    catch (Exception) { }
                    switch (member)
                    {
                        case Type t: yield return t; break;
                        case MethodBase mb:
                            if (mb.DeclaringType is { } d) yield return d;
                            if (mb is MethodInfo { IsGenericMethod: true } g)
                                foreach (var a in g.GetGenericArguments()) yield return a;
                            break;
                        case FieldInfo f:
                            if (f.DeclaringType is { } fd) yield return fd;
                            yield return f.FieldType;
                            break;
                    }
                    break;
                default: pos += 4; break; // InlineI, InlineBrTarget, InlineString, InlineSig, ShortInlineR
            }
        }
    }

    /// <summary>The references that go against <paramref name="order"/>: a namespace may use its own layer and the
    /// layers before it. A namespace that is in no layer is reported too.</summary>
    /// <param name="references">What <see cref="References"/> found.</param>
    /// <param name="order">Layers from the bottom up; each a set of namespaces.</param>
    public static List<string> Violations(IEnumerable<(Type From, Type To, string Where)> references, IReadOnlyList<string[]> order)
    {
        var layerOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < order.Count; i++)
            foreach (var ns in order[i]) layerOf[ns] = i;
        var bad = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (from, to, where) in references)
        {
            string a = from.Namespace ?? "", b = to.Namespace ?? "";
            if (a == b || CompilerGenerated(from) || CompilerGenerated(to)) continue;
            if (!layerOf.TryGetValue(a, out int la)) { bad.Add($"namespace {a} ({from.FullName}) is in no layer of the architecture"); continue; }
            if (!layerOf.TryGetValue(b, out int lb)) { bad.Add($"namespace {b} ({to.FullName}) is in no layer of the architecture"); continue; }
            if (lb > la) bad.Add($"{a} -> {b}: {Name(from)} uses {Name(to)} ({where})");
        }
        return bad.ToList();
    }

    /// <summary>The compiler's own global helper types (<c>&lt;PrivateImplementationDetails&gt;</c>, collection-expression
    /// buffers): in no namespace, named with angle brackets; they belong to no layer.</summary>
    private static bool CompilerGenerated(Type t)
    {
        while (t.DeclaringType is { } d) t = d;
        return string.IsNullOrEmpty(t.Namespace) && t.Name.StartsWith('<');
    }

    private static string Name(Type t) => (t.DeclaringType is { } d ? Name(d) + "+" : "") + t.Name;
}
