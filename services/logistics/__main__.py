from services.logistics.app import service

service.run()
