using System.Globalization;
using System.Runtime.CompilerServices;
using FlexNet.Tensors;

namespace FlexNet.Tensors;

/// <summary>
/// A per-thread cap on tensor memory, set while a loader builds a model from a file: every tensor buffer created
/// on this thread inside <see cref="Limit"/> is charged against the cap, and the buffer that would exceed it throws
/// <see cref="ModelFormatException"/> before it is allocated. So a small file declaring a huge layer fails fast
/// instead of allocating gigabytes.
/// </summary>
internal static class AllocationBudget
{
    [ThreadStatic]
    private static Scope? _current;

    internal sealed class Scope : IDisposable
    {
        private readonly Scope? _outer;
        private readonly long _limit;
        private readonly string _what;
        private long _used;

        internal Scope(long limit, string what, Scope? outer) => (_limit, _what, _outer) = (limit, what, outer);

        internal void Charge(long bytes)
        {
            _used += bytes;
            if (_used > _limit)
                throw new ModelFormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{_what}: building it needs more than {_limit} bytes of tensors (the next buffer alone is {bytes} bytes), out of proportion to the weights the file stores; the architecture declares layers larger than its tensors."));
        }

        public void Dispose() => _current = _outer;
    }

    /// <summary>Caps tensor allocation on this thread until the returned scope is disposed.</summary>
    /// <param name="bytes">The cap.</param>
    /// <param name="what">Names the file in the error.</param>
    internal static Scope Limit(long bytes, string what) => _current = new Scope(bytes, what, _current);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Charge(DType dtype, int length)
    {
        if (_current is { } s) s.Charge((long)length * (dtype == DType.Float64 ? 8 : 4));
    }
}
