from services.finance.app import service

service.run()
