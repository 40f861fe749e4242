using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit.Abstractions;
using NativeNet.Data;
using NativeNet.Persistence;
using NativeNet.Training;

namespace NativeNet.Tests;

/// <summary>Tests that redirect the process's console (or its environment) run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessConsoleCollection
{
    public const string Name = "Process console and environment";
}

/// <summary>
/// The README's library example is code that runs: the C# block between <c>&lt;!-- library-example --&gt;</c> and
/// <c>&lt;!-- /library-example --&gt;</c> is compiled with Roslyn as a console program (the SDK's implicit usings, no
/// others) against this build's NativeNet assemblies, and run on MNIST. It must compile without a warning, train,
/// save, load and classify; the model it saved must give the accuracy it printed.
/// </summary>
[Collection(ProcessConsoleCollection.Name)]
public sealed class ReadmeExampleTests(ITestOutputHelper log)
{
    private const string StartMarker = "<!-- library-example -->";
    private const string EndMarker = "<!-- /library-example -->";

    /// <summary>The global usings a console project gets from Microsoft.NET.Sdk with ImplicitUsings enabled.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    [MnistFact]
    public void LibraryExampleCompilesRunsAndSavesWhatItTrained()
    {
        string readme = File.ReadAllText(Path.Combine(Requirements.RepositoryRoot!, "README.md"));
        var program = Compile(ExtractExample(readme));

        // The example saves into the temporary folder: give it one of its own (no other test runs meanwhile).
        using var temp = new TempDirectory();
        string output = RunWithTempFolder(program, temp.Path, Requirements.MnistDirectory);
        log.WriteLine(output);

        var accuracy = Regex.Match(output, @"^test accuracy: (\d+) / (\d+)$", RegexOptions.Multiline);
        Assert.True(accuracy.Success, $"no 'test accuracy: C / N' line in the example's output:\n{output}");
        int correct = int.Parse(accuracy.Groups[1].Value), count = int.Parse(accuracy.Groups[2].Value);
        Assert.Equal(Mnist.StandardTestCount, count);
        Assert.True(correct > count / 2, $"200 steps should take the network far above chance (10%); it got {correct} / {count}");

        var test = Mnist.Load(Requirements.MnistDirectory).Test;
        var classified = Regex.Match(output, @"^test image 0 is a (\d); the loaded network says (\d)$", RegexOptions.Multiline);
        Assert.True(classified.Success, $"no classification line in the example's output:\n{output}");
        Assert.Equal(test.Labels[0].ToString(), classified.Groups[1].Value);

        // What was saved is what was trained: the file gives the printed accuracy and the printed class.
        var saved = Directory.GetFiles(temp.Path, "*.safetensors");
        Assert.Single(saved);
        using var loaded = ModelFile.Load(saved[0]);
        using var trainer = new SgdTrainer(loaded, new SgdOptions { BatchSize = 10 });
        Assert.Equal(correct, trainer.Evaluate(test.Pixels, test.Labels).Correct);
        Assert.Equal(classified.Groups[2].Value, loaded.Classify(test.Image(0)).ToString());
    }

    [Fact]
    public void ExtractExampleTakesTheCSharpBlockBetweenTheMarkers()
    {
        string readme = $"intro\n```csharp\nnot this\n```\n{StartMarker}\n```csharp\nConsole.WriteLine(1);\n```\n{EndMarker}\nafter";
        Assert.Equal("Console.WriteLine(1);\n", ExtractExample(readme));
    }

    [Theory]
    [InlineData("no markers at all")]
    [InlineData(StartMarker + "\n```csharp\nx();\n```\n")]
    [InlineData(StartMarker + "\nx();\n" + EndMarker)]
    public void ExtractExampleNamesWhatIsMissing(string readme)
    {
        var e = Assert.Throws<InvalidDataException>(() => ExtractExample(readme));
        Assert.Contains("README.md", e.Message);
    }

    /// <summary>The code inside the one ```csharp fence between the markers.</summary>
    internal static string ExtractExample(string readme)
    {
        int start = readme.IndexOf(StartMarker, StringComparison.Ordinal);
        int end = start < 0 ? -1 : readme.IndexOf(EndMarker, start, StringComparison.Ordinal);
        if (start < 0 || end < 0)
            throw new InvalidDataException($"README.md has no '{StartMarker}' ... '{EndMarker}' pair around the library example.");
        var block = Regex.Match(readme[(start + StartMarker.Length)..end], @"^```csharp\r?\n(.*?)^```\s*$", RegexOptions.Multiline | RegexOptions.Singleline);
        if (!block.Success)
            throw new InvalidDataException($"README.md has no ```csharp block between '{StartMarker}' and '{EndMarker}'.");
        return block.Groups[1].Value;
    }

    /// <summary>Compiles a top-level program against the assemblies this test runs with; fails on any warning or error.</summary>
    private static byte[] Compile(string code)
    {
        var parse = CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest);
        var trees = new[]
        {
            CSharpSyntaxTree.ParseText(code, parse, path: "README.md"),
            CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "ImplicitUsings.cs"),
        };
        // The runtime's assemblies and this test's dependencies (NativeNet, NativeNet.Core, NativeNet.Data, ...).
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(p => MetadataReference.CreateFromFile(p));
        var options = new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable)
            // As in an SDK build: binding to a newer version of a referenced assembly is not worth a warning.
            .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic> { ["CS1701"] = ReportDiagnostic.Suppress, ["CS1702"] = ReportDiagnostic.Suppress });
        var compilation = CSharpCompilation.Create("ReadmeExample", trees, references, options);
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var problems = result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).ToList();
        Assert.True(result.Success && problems.Count == 0, "The README's example does not compile cleanly:\n" + string.Join("\n", problems));
        return image.ToArray();
    }

    /// <summary>Runs the program's entry point in this process with TMPDIR set and the console captured; returns its output.</summary>
    private static string RunWithTempFolder(byte[] program, string tempFolder, params string[] args)
    {
        var context = new AssemblyLoadContext("ReadmeExample", isCollectible: true);
        var previousOut = Console.Out;
        string? previousTemp = Environment.GetEnvironmentVariable("TMPDIR");
        var output = new StringWriter();
        try
        {
            Environment.SetEnvironmentVariable("TMPDIR", tempFolder);
            Console.SetOut(output);
            var entry = context.LoadFromStream(new MemoryStream(program)).EntryPoint!;
            try
            {
                entry.Invoke(null, [args]);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw new Xunit.Sdk.XunitException($"The README's example threw {e.InnerException}\nOutput so far:\n{output}");
            }
        }
        finally
        {
            Console.SetOut(previousOut);
            Environment.SetEnvironmentVariable("TMPDIR", previousTemp);
            context.Unload();
        }
        return output.ToString();
    }
}
