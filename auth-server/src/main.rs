fn main() -> std::process::ExitCode {
    auth_server::cli::main()
}
