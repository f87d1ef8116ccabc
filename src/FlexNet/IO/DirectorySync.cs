using System.Runtime.InteropServices;

namespace FlexNet.IO;

/// <summary>fsync of a directory, so that a rename into it is on disk (POSIX: a rename is durable only once its
/// directory is synced). Best effort: a file system that cannot sync directories is left as it is. On Windows
/// there is no directory handle to sync; NTFS journals the rename.</summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY on Linux and macOS
    private const int Failed = -1; // what open returns on an error

    internal static void Flush(string directory)
    {
        // Stryker disable once all: not taken on the test hosts, and taking it only skips the fsync (durability only)
        if (OperatingSystem.IsWindows()) return;
        int fd = Open(directory, ReadOnly);
        // Stryker disable once Statement: open of an existing directory succeeds; fsync and close of -1 would only fail with EBADF
        if (fd == Failed) return;
        // Durability only (a rename survives a power loss); Stryker makes no mutant of a discard assignment.
        _ = FSync(fd);
        _ = Close(fd); // FSync returns an error code, it does not throw
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
