using System.Diagnostics;
using System.Globalization;

namespace FlexNet.IO;

/// <summary>
/// Crash-safe file replacement: write to a uniquely named temporary file in the destination's directory
/// (<c>.NAME.PID.GUID.tmp</c>), flush it to disk (fsync), rename it over the destination, then fsync the directory
/// so the rename itself survives a power loss. A reader of the final name sees the old file or the complete new
/// one, never a partial write; a failed write deletes its temporary file. A temporary file left by a process that
/// was killed mid-write is never read, and the next write to the same destination deletes it.
/// </summary>
internal static class AtomicFile
{
    private static readonly HashSet<string> InFlight = new(StringComparer.Ordinal);

    /// <summary>Test hook: runs after the temporary file is complete and flushed, just before the rename (the
    /// kill-and-resume test sleeps here so a SIGKILL lands inside a checkpoint write).</summary>
    internal static Action<string>? BeforeRename { get; set; }

    /// <summary>Test support: the number of writes of this process in flight (each is forgotten when it ends).</summary>
    internal static int InFlightCount
    {
        get
        {
            lock (InFlight) return InFlight.Count;
        }
    }

    /// <summary>Writes <paramref name="path"/> atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="write">Writes the full content into the stream it is given.</param>
    /// <param name="openTemp">Test hook: opens the temporary file (default: a new <see cref="FileStream"/>).</param>
    internal static void Write(string path, Action<Stream> write, Func<string, Stream>? openTemp = null)
    {
        // Stryker disable once Statement: Path.GetFullPath(null) throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        string name = Path.GetFileName(full);
        string temp = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp"));
        RemoveStaleTemporaries(directory, name);
        lock (InFlight) InFlight.Add(temp);
        try
        {
            // Stryker disable once Bitwise,Arithmetic: the buffer size changes the number of write calls, not the bytes written
            using (Stream s = openTemp is null
                       ? new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16)
                       : openTemp(temp))
            {
                write(s);
                if (s is FileStream fs)
                    // Stryker disable once Statement,Boolean: durability only: disposing the FileStream writes its buffer to the OS anyway, only a power loss could tell
                    fs.Flush(flushToDisk: true);
                else s.Flush();
            }
            BeforeRename?.Invoke(full);
            File.Move(temp, full, overwrite: true);
            // Stryker disable once Statement: durability only: the directory fsync makes the rename survive a power loss, nothing a test can see
            DirectorySync.Flush(directory);
        }
        finally
        {
            TryDelete(temp); // a no-op after the rename
            lock (InFlight) InFlight.Remove(temp);
        }
    }

    /// <summary>Deletes <c>.NAME.PID.*.tmp</c> files beside the destination that no live write owns: those of a
    /// process that no longer runs, and those of this process that no write of it is producing.</summary>
    internal static void RemoveStaleTemporaries(string directory, string name)
    {
        string prefix = "." + name + ".";
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(directory, prefix + "*.tmp");
        }
        catch (IOException)
        {
            return;
        }
        catch (UnauthorizedAccessException)
        {
            return;
        }
        foreach (string file in candidates)
        {
            string rest = Path.GetFileName(file)[prefix.Length..];
            if (rest.Length == 36 && Guid.TryParseExact(rest.AsSpan(0, 32), "N", out _))
            {
                TryDelete(file); // the format of earlier versions (.NAME.GUID.tmp), which only a crash leaves behind
                // Stryker disable once Statement: without it the 32 hex digits fail the pid parse below (letters, or too large for an int)
                continue;
            }
            int dot = rest.IndexOf('.', StringComparison.Ordinal); // ≥ 0: the name ends in ".tmp"; 0 (no pid) fails the parse
            // Stryker disable once Statement: an unparsed pid stays 0, and pid 0 counts as running (kill(0, 0) reaches our own process group), so the file is kept either way
            if (!int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            bool stale;
            if (pid == Environment.ProcessId)
            {
                lock (InFlight) stale = !InFlight.Contains(file);
            }
            else stale = !IsRunning(pid);
            if (stale) TryDelete(file);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        // Stryker disable once all: only a process that exits between the lookup and HasExited gets here, a race no test can time
        catch (InvalidOperationException)
        {
            return false;
        }
        // Stryker disable once all: thrown on Windows only, for a process of another user; the tests run on Linux
        catch (System.ComponentModel.Win32Exception)
        {
            return true; // exists but is not ours to inspect: leave its file alone
        }
    }

    private static void TryDelete(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (IOException)
        {
            // Best effort: the original error is what the caller needs to see.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
