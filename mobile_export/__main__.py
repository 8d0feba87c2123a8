from edge.commands.dispatch import stage_main

stage_main("export-mobile")
