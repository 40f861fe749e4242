using NativeNet.Cli.Commands;
using Spectre.Console.Cli;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("nativenet");
    config.AddBranch("bench", bench =>
    {
        bench.SetDescription("Measure kernels and training speed.");
        bench.AddCommand<BenchGemmCommand>("gemm").WithDescription("GFLOP/s of SGEMM over the default shape list.");
    });
});
return app.Run(args);
