from services.sales.app import service

service.run()
