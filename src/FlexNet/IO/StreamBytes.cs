namespace FlexNet.IO;

/// <summary>Reads a whole stream into one array, refusing anything longer than <see cref="Array.MaxLength"/>.</summary>
internal static class StreamBytes
{
    internal static byte[] ReadToEnd(Stream stream, Func<string, Exception> formatError) =>
        ReadToEnd(stream, formatError, Array.MaxLength);

    /// <summary>Reads the rest of <paramref name="stream"/>; more than <paramref name="limit"/> bytes is a format
    /// error. The limit is a parameter so that tests can check both sides of it without a 2 GB input.</summary>
    internal static byte[] ReadToEnd(Stream stream, Func<string, Exception> formatError, int limit)
    {
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining > limit)
                throw formatError($"{remaining} bytes; inputs over {limit} bytes are not supported.");
            var buffer = new byte[Math.Max(0, remaining)];
            int got = 0;
            while (got < buffer.Length)
            {
                int n = stream.Read(buffer, got, buffer.Length - got);
                if (n == 0) throw formatError($"stream ended after {got} of {buffer.Length} bytes (the file changed while being read?).");
                got += n;
            }
            return buffer;
        }

        // Non-seekable: grow geometrically; the size is bounded by what actually arrives, never by a header's claim.
        byte[] buf = new byte[Math.Min(1 << 16, limit)];
        int len = 0;
        while (true)
        {
            if (len == buf.Length)
            {
                if (buf.Length >= limit)
                {
                    // Full at the limit: exactly limit bytes are accepted (as for a seekable stream), one more is not.
                    if (stream.ReadByte() < 0) break;
                    throw formatError($"more than {limit} bytes; inputs that large are not supported.");
                }
                Array.Resize(ref buf, (int)Math.Min((long)buf.Length * 2, limit));
            }
            int n = stream.Read(buf, len, buf.Length - len);
            if (n == 0) break;
            len += n;
        }
        Array.Resize(ref buf, len);
        return buf;
    }
}
