using FlexNet.Cli.Commands;
using FlexNet.Tensors;

namespace FlexNet.Cli;

/// <summary>The <c>flexnet</c> command-line tool: parses arguments and calls the library.</summary>
public static class Program
{
    private const string Help = """
        usage: flexnet <command> [options]

        commands:
          fashion-mnist   train a classifier on Fashion-MNIST and report test accuracy
          layers          list every registered layer form with its parameters
          version         print the version
        """;

    /// <summary>Entry point.</summary>
    /// <param name="args">Command and options.</param>
    /// <returns>Process exit code (0 success, 1 failure, 2 usage).</returns>
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Help);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            return args[0] switch
            {
                "fashion-mnist" => FashionMnistCommand.Run(args[1..]),
                "layers" => LayersCommand.Run(args[1..], Console.Out, Console.Error),
                "version" or "--version" => Version(),
                _ => Unknown(args[0]),
            };
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"flexnet {args[0]}: {e.Message}");
            return 2;
        }
        catch (FlexNetException e)
        {
            Console.Error.WriteLine($"flexnet {args[0]}: [{e.Code}] {e.Message}");
            return 1;
        }
    }

    private static int Version()
    {
        Console.WriteLine($"flexnet {typeof(Tensor).Assembly.GetName().Version}");
        return 0;
    }

    private static int Unknown(string command)
    {
        Console.Error.WriteLine($"flexnet: unknown command '{command}' (try 'flexnet help')");
        return 2;
    }
}
