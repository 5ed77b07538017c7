from kgcli.cli import main

main()
