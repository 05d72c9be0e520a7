from wijkflow.cli import main

main()
