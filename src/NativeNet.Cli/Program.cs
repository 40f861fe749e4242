return NativeNet.Cli.NativeNetApp.Run(args);
