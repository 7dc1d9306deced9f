from services.lag_exporter.app import main

main()
