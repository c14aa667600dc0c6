from talkdeploy.cli import main

main()
