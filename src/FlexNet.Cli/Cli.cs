using System.CommandLine;
using System.Globalization;
using FlexNet.Cli.Commands;
using FlexNet.Tensors;

namespace FlexNet.Cli;

/// <summary>The command tree and the error policy shared by every command: a FlexNet error (bad spec, model or data
/// file) prints its message and exits 1; an I/O error exits 1; anything else is a bug and exits 3; a stack trace only
/// with <c>--verbose</c>.</summary>
internal sealed class Cli(TextWriter output, TextWriter error)
{
    private readonly Dictionary<Command, string> _usage = [];

    internal static readonly Option<bool> Verbose = new("--verbose", "-v") { Description = "Print stack traces with errors.", Recursive = true };

    internal string Usage(Command cmd) => _usage.TryGetValue(cmd, out var u) ? u : "flexnet <command> [options]";

    internal RootCommand BuildRoot()
    {
        var root = new RootCommand("flexnet: train, summarise and draw FlexNet networks described in JSON or YAML spec files.\n\n" + Program.ExitCodes);
        root.Options.Add(Verbose);
        _usage[root] = "flexnet <command> [options]  (commands: train, evaluate, predict, summary, graph, layers, version, fashion-mnist)";

        // train
        var spec = new Argument<string>("SPEC") { Description = "The spec file (.yaml, .yml or .json)." };
        var data = new Option<string>("--data") { Description = "A Fashion-MNIST folder (IDX files) that replaces the spec's data.", HelpName = "DIR" };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (replaces the spec's).", HelpName = "N" };
        var batch = new Option<int?>("--batch") { Description = "Mini-batch size (replaces the spec's).", HelpName = "N" };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (replaces the optimizer's).", HelpName = "X" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of the initial weights and the data order.", HelpName = "N" };
        var outFile = new Option<string>("--out") { Description = "Model file to write (safetensors); the history CSV and the checkpoint go beside it.", HelpName = "MODEL" };
        var resume = new Option<string>("--resume") { Description = "Checkpoint to resume from (written by an earlier run with --out).", HelpName = "CKPT" };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N training samples.", HelpName = "N" };
        var dataParallel = new Option<bool>("--data-parallel")
        {
            Description = "Train data-parallel over MPI: every rank runs this command (mpirun -np R flexnet train ...), --batch is the " +
                          "global batch. On by itself when mpirun/mpiexec launched more than one rank (docs/distributed.md).",
        };
        var train = new Command("train", "Train the network of a spec file on its data; print progress, a metrics table and the test result.\n\n" + Program.ExitCodes)
        {
            spec, data, epochs, batch, lr, seed, outFile, resume, limit, dataParallel,
        };
        _usage[train] = "flexnet train SPEC [--data DIR] [--epochs N] [--batch N] [--lr X] [--seed N] [--out MODEL] [--resume CKPT] [--limit N] [--data-parallel]";
        train.SetAction(r => Guard(r, "train", w => TrainCommand.Run(new TrainCommand.Settings(
            r.GetValue(spec)!, r.GetValue(data), r.GetValue(epochs), r.GetValue(batch), r.GetValue(lr), r.GetValue(seed),
            r.GetValue(outFile), r.GetValue(resume), r.GetValue(limit), r.GetValue(dataParallel)), w.Out, w.Err)));
        root.Subcommands.Add(train);

        // evaluate
        var eModel = new Argument<string>("MODEL") { Description = "A .flexnet model file (flexnet train SPEC --out MODEL.flexnet)." };
        var eData = new Option<string>("--data") { Description = "A Fashion-MNIST folder; its test images are used.", HelpName = "DIR", Required = true };
        var eBatch = new Option<int>("--batch") { Description = "Samples per forward pass.", DefaultValueFactory = _ => 256, HelpName = "N" };
        var evaluate = new Command("evaluate", "Loss and accuracy of a model file on a data set's test images.\n\n" + Program.ExitCodes) { eModel, eData, eBatch };
        _usage[evaluate] = "flexnet evaluate MODEL --data DIR [--batch N]";
        evaluate.SetAction(r => Guard(r, "evaluate", w => ModelCommands.Evaluate(r.GetValue(eModel)!, r.GetValue(eData)!, r.GetValue(eBatch), w.Out)));
        root.Subcommands.Add(evaluate);

        // predict
        var pModel = new Argument<string>("MODEL") { Description = "A .flexnet model file." };
        var pInput = new Argument<string>("INPUT") { Description = "Samples: .npy (first axis = samples), .csv (one sample a row, no header) or IDX." };
        var pOut = new Option<string>("--out") { Description = "Where the outputs go: .npy or .csv (standard output as CSV when absent).", HelpName = "FILE" };
        var pBatch = new Option<int>("--batch") { Description = "Samples per forward pass.", DefaultValueFactory = _ => 256, HelpName = "N" };
        var predict = new Command("predict", "Run a model file on samples and write its outputs.\n\n" + Program.ExitCodes) { pModel, pInput, pOut, pBatch };
        _usage[predict] = "flexnet predict MODEL INPUT [--out FILE] [--batch N]";
        predict.SetAction(r => Guard(r, "predict", w => ModelCommands.Predict(r.GetValue(pModel)!, r.GetValue(pInput)!, r.GetValue(pOut), r.GetValue(pBatch), w.Out)));
        root.Subcommands.Add(predict);

        // summary
        var sSpec = new Argument<string>("SPEC") { Description = "The spec file, or a .flexnet model file." };
        var summary = new Command("summary", "Validate a spec file and print its network's layers, connections and parameter counts.\n\n" + Program.ExitCodes) { sSpec };
        _usage[summary] = "flexnet summary SPEC|MODEL";
        summary.SetAction(r => Guard(r, "summary", w => SpecCommands.Summary(r.GetValue(sSpec)!, w.Out)));
        root.Subcommands.Add(summary);

        // graph
        var gSpec = new Argument<string>("SPEC") { Description = "The spec file, or a .flexnet model file." };
        var format = new Option<string>("--format") { Description = "dot (always), svg or png (laid out by Graphviz's 'dot' program where installed, else by MSAGL).", DefaultValueFactory = _ => "dot", HelpName = "dot|svg|png" };
        format.AcceptOnlyFromAmong("dot", "svg", "png");
        var engine = new Option<string>("--layout") { Description = "Who lays out svg/png: auto (Graphviz if 'dot' is on the PATH, else MSAGL), graphviz or msagl.", DefaultValueFactory = _ => "auto", HelpName = "auto|graphviz|msagl" };
        engine.AcceptOnlyFromAmong("auto", "graphviz", "msagl");
        var gOut = new Option<string>("--out") { Description = "File to write (standard output for dot when absent).", HelpName = "FILE" };
        var graph = new Command("graph", "Draw a spec's network: recurrent edges dashed and labelled with their delay.\n\n" + Program.ExitCodes) { gSpec, format, gOut, engine };
        _usage[graph] = "flexnet graph SPEC|MODEL --format dot|svg|png [--out FILE] [--layout auto|graphviz|msagl]";
        graph.SetAction(r => Guard(r, "graph", w => SpecCommands.Graph(r.GetValue(gSpec)!, r.GetValue(format)!, r.GetValue(gOut), w.Out, w.Err, r.GetValue(engine)!)));
        root.Subcommands.Add(graph);

        // layers
        var lName = new Argument<string?>("NAME") { Description = "A layer kind, catalog form or connection kind to describe.", Arity = ArgumentArity.ZeroOrOne };
        var layers = new Command("layers", "List the layer and connection kinds a spec accepts, and the registered catalog forms.") { lName };
        _usage[layers] = "flexnet layers [NAME]";
        layers.SetAction(r => Guard(r, "layers", w => SpecCommands.Layers(r.GetValue(lName), w.Out, w.Err)));
        root.Subcommands.Add(layers);

        // version
        var version = new Command("version", "Print the version.");
        _usage[version] = "flexnet version";
        version.SetAction(r =>
        {
            r.InvocationConfiguration.Output.WriteLine($"flexnet {typeof(Tensor).Assembly.GetName().Version?.ToString(3)}");
            return 0;
        });
        root.Subcommands.Add(version);

        // fashion-mnist (the README's original main job)
        var fData = new Option<string>("--data") { Description = "Fashion-MNIST folder (default: testdata/fashion-mnist found upwards from here).", HelpName = "DIR" };
        var fModel = new Option<string>("--model") { Description = "mlp or cnn.", DefaultValueFactory = _ => "mlp", HelpName = "mlp|cnn" };
        fModel.AcceptOnlyFromAmong("mlp", "cnn");
        var fEpochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 5, HelpName = "N", Description = "Epochs." };
        var fBatch = new Option<int>("--batch") { DefaultValueFactory = _ => 128, HelpName = "N", Description = "Mini-batch size." };
        var fLr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-3, HelpName = "X", Description = "Adam's learning rate." };
        var fSeed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1, HelpName = "N", Description = "Seed." };
        var fLimit = new Option<int>("--limit") { DefaultValueFactory = _ => 0, HelpName = "N", Description = "Use only the first N training images (0: all)." };
        var fashion = new Command("fashion-mnist", "Train a classifier on Fashion-MNIST and report the test accuracy.\n\n" + Program.ExitCodes)
        {
            fData, fModel, fEpochs, fBatch, fLr, fSeed, fLimit,
        };
        _usage[fashion] = FashionMnistCommand.Usage;
        fashion.SetAction(r => Guard(r, "fashion-mnist", w => FashionMnistCommand.Run(new FashionMnistCommand.Settings(
            r.GetValue(fData), r.GetValue(fModel)!, r.GetValue(fEpochs), r.GetValue(fBatch), r.GetValue(fLr), r.GetValue(fSeed), r.GetValue(fLimit)), w.Out)));
        root.Subcommands.Add(fashion);

        // export
        var xModel = new Argument<string>("MODEL") { Description = "A model file written by Network.Save (.flexnet)." };
        var xFormat = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "onnx", HelpName = "onnx" };
        var xMode = new Option<string>("--mode") { Description = "step: one step with every delayed edge's buffer as a state input and output; sequence: the whole [T, N, ...] sequence in one call (a Loop, T free); unrolled: a flat graph of --steps steps.", DefaultValueFactory = _ => "step", HelpName = "step|sequence|unrolled" };
        var xSteps = new Option<int?>("--steps") { Description = "T of the unrolled form (default: the declared sequence length or the network's steps); for the sequence form of a network without temporal inputs.", HelpName = "T" };
        var xOpset = new Option<int>("--opset") { Description = "ONNX opset (13..21).", DefaultValueFactory = _ => 17, HelpName = "N" };
        var xOut = new Option<string>("--out") { Description = "The .onnx file to write.", HelpName = "FILE", Required = true };
        var export = new Command("export", "Export a saved model file to ONNX.\n\n" + Program.ExitCodes) { xModel, xFormat, xMode, xSteps, xOpset, xOut };
        _usage[export] = "flexnet export MODEL --format onnx --mode step|sequence|unrolled [--steps T] [--opset N] --out FILE";
        export.SetAction(r => Guard(r, "export", w => ExportCommand.Run(r.GetValue(xModel)!, r.GetValue(xFormat)!, r.GetValue(xMode)!, r.GetValue(xSteps), r.GetValue(xOpset), r.GetValue(xOut)!, w.Out)));
        root.Subcommands.Add(export);

        foreach (var c in root.Subcommands) _usage.TryAdd(c, "flexnet " + c.Name);
        return root;
    }

    private int Guard(ParseResult r, string name, Func<(TextWriter Out, TextWriter Err), int> run)
    {
        var o = r.InvocationConfiguration.Output ?? output;
        var e = r.InvocationConfiguration.Error ?? error;
        bool verbose = r.GetValue(Verbose);
        try
        {
            return run((o, e));
        }
        catch (UsageException ex)
        {
            e.WriteLine($"flexnet {name}: {ex.Message}");
            e.WriteLine($"Usage: {Usage(r.CommandResult.Command)}");
            return 2;
        }
        catch (FlexNetException ex)
        {
            e.WriteLine($"flexnet {name}: [{ex.Code}] {ex.Message}");
            if (verbose) e.WriteLine(ex);
            return 1;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            e.WriteLine($"flexnet {name}: {ex.Message}");
            if (verbose) e.WriteLine(ex);
            return 1;
        }
        catch (Exception ex)
        {
            e.WriteLine($"flexnet {name}: internal error ({ex.GetType().Name}): {ex.Message}");
            e.WriteLine(verbose ? ex.ToString() : "Run again with --verbose for the stack trace, and please report it.");
            return 3;
        }
    }

    internal static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
}

/// <summary>A usage error found after parsing (a value out of range): exit code 2 with the command's usage line.</summary>
internal sealed class UsageException(string message) : Exception(message);
