using System.Diagnostics;
using System.Text;

namespace FlexNet.Tests.Distributed;

/// <summary>Finds an MPI launcher and the test host (tests/FlexNet.Distributed.Host, built beside this project) and
/// runs one host scenario under <c>mpirun -np R</c> with a timeout.</summary>
internal static class MpiHost
{
    /// <summary>Per-launch limit: far above the 2 to 5 s a scenario takes, so only a hang reaches it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(240);

    public sealed record Result(int ExitCode, string Output, DateTime Exited, TimeSpan Elapsed, bool TimedOut);

    /// <summary>The launcher command for <paramref name="mpi"/> ("openmpi" or "mpich"), or null with the reason.</summary>
    public static (string Exe, string[] Args)? Launcher(string mpi, int ranks, out string reason)
    {
        reason = "";
        if (mpi == "openmpi")
        {
            var exe = Find("mpirun.openmpi") ?? Find("orterun");
            if (exe is null || !File.Exists("/usr/lib/x86_64-linux-gnu/libmpi.so.40") && !LibraryOnPath("libmpi.so.40"))
            {
                reason = "Open MPI is not installed (apt-get install -y openmpi-bin libopenmpi-dev); .ci/run installs it";
                return null;
            }
            // Containers: shared memory without CMA (vader single copy off), no core binding with more ranks than
            // cores, and yield while waiting so that oversubscribed ranks do not spin against each other.
            return (exe, ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader",
                "--mca", "btl_vader_single_copy_mechanism", "none", "--mca", "mpi_yield_when_idle", "1", "-np", ranks.ToString()]);
        }
        var hydra = Find("mpiexec.hydra") ?? Find("mpirun.mpich");
        if (hydra is null)
        {
            reason = "MPICH is not installed (apt-get install -y mpich libmpich-dev)";
            return null;
        }
        return (hydra, ["-n", ranks.ToString()]);
    }

    /// <summary>tests/FlexNet.Distributed.Host/bin/CONFIG/TFM/FlexNet.Distributed.Host.dll, with this test assembly's
    /// configuration and target framework.</summary>
    public static string BuiltHostDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = dir.Name, config = dir.Parent!.Name;
        var tests = dir.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(tests, "FlexNet.Distributed.Host", "bin", config, tfm, "FlexNet.Distributed.Host.dll");
        Assert.True(File.Exists(dll), $"the MPI test host is not built: {dll} (dotnet build tests/FlexNet.Distributed.Host -c {config})");
        return dll;
    }

    private static readonly Lazy<string> HostCopy = new(CopyHost, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The host the ranks run: the built host's folder copied once per test process into a temporary folder,
    /// with the <c>FlexNet.dll</c> this test process loaded in place of the host's own copy. The ranks then run the
    /// very library the in-process tests run (the same build normally; under mutation testing, the mutated one, whose
    /// active mutant the ranks read from the environment they inherit through <c>mpirun</c>).</summary>
    public static string HostDll() => HostCopy.Value;

    private static string CopyHost()
    {
        var built = BuiltHostDll();
        var dir = Directory.CreateTempSubdirectory("flexnet-mpi-host-").FullName;
        foreach (var f in Directory.GetFiles(Path.GetDirectoryName(built)!))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var library = typeof(FlexNet.Graph.Network).Assembly.Location;
        File.Copy(library, Path.Combine(dir, Path.GetFileName(library)), overwrite: true);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } };
        return Path.Combine(dir, Path.GetFileName(built));
    }

    public static Result Run(string mpi, int ranks, params string[] scenario) => RunDll(mpi, ranks, HostDll(), scenario);

    /// <summary>Launches <c>dotnet DLL ARGS...</c> on <paramref name="ranks"/> ranks.</summary>
    public static Result RunDll(string mpi, int ranks, string dll, params string[] scenario)
    {
        var launcher = Launcher(mpi, ranks, out var reason);
        if (launcher is null) Assert.Skip(reason);
        var (exe, args) = launcher.Value;
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(dll);
        foreach (var a in scenario) psi.ArgumentList.Add(a);
        psi.Environment["TERM"] = "dumb";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["UCX_WARN_UNUSED_ENV_VARS"] = "n";
        var output = new StringBuilder();
        var sw = Stopwatch.StartNew();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        bool exited = p.WaitForExit(Timeout);
        var at = DateTime.UtcNow;
        if (!exited)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        p.WaitForExit(); // drains the output readers
        string text;
        lock (output) text = output.ToString();
        TestContext.Current.TestOutputHelper?.WriteLine($"$ {exe} {string.Join(' ', psi.ArgumentList)}\n{text}\nexit {(exited ? p.ExitCode : -1)} after {sw.Elapsed.TotalSeconds:F1} s");
        return new Result(exited ? p.ExitCode : -1, text, at, sw.Elapsed, !exited);
    }

    private static string? Find(string name)
    {
        foreach (var d in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = Path.Combine(d, name);
            if (File.Exists(f)) return f;
        }
        return null;
    }

    private static bool LibraryOnPath(string soname) => System.Runtime.InteropServices.NativeLibrary.TryLoad(soname, out _);
}
