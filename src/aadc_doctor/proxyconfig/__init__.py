"""Where the proxy setting comes from (machine.config, .exe.config, netsh winhttp, PAC, environment) → ProxyConfig."""
