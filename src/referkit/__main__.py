from referkit.cli import main

main()
