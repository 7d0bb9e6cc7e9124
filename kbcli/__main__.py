from kbcli.cli import main

main()
