import {
  type DynamicModule,
  Inject,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type Provider,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AnyRegistry, Logger } from '@routemeter/core';
import type { ExpressRoutemeterOptions } from '@routemeter/express';
import type { FastifyRoutemeterOptions } from '@routemeter/fastify';
import { register as globalRegister } from 'prom-client';
import { install } from './install.js';

/** Options of {@link RoutemeterModule}: those of the adapter of the app's platform, Express's or Fastify's. */
export type NestRoutemeterOptions = ExpressRoutemeterOptions | FastifyRoutemeterOptions;

/** The module's options, as given to `forRoot` or returned by `forRootAsync`'s factory. */
export const ROUTEMETER_OPTIONS: unique symbol = Symbol('routemeter.options');

/** The prom-client registry routemeter records into and serves: inject it to add your own metrics. */
export const ROUTEMETER_REGISTRY: unique symbol = Symbol('routemeter.registry');

const INSTALLED = Symbol('routemeter.installed');
const CONFIGURED = Symbol('routemeter.configured');

/**
 * Injects the registry routemeter records into (`options.registry`, or prom-client's global one).
 * @example
 * constructor(@InjectRegistry() registry: Registry) {
 *   this.jobs = new Counter({ name: 'jobs_total', help: 'Jobs run', registers: [registry] });
 * }
 */
export function InjectRegistry(): PropertyDecorator & ParameterDecorator {
  return Inject(ROUTEMETER_REGISTRY);
}

export interface RoutemeterModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory(...args: never[]): NestRoutemeterOptions | Promise<NestRoutemeterOptions>;
  inject?: InjectionToken[];
}

/** What the module leaves behind: Nest calls its hook when the app closes. */
interface Installed {
  onApplicationShutdown(): void;
}

/**
 * Request metrics for the whole app, on Express or Fastify: import it once, in the root module. It installs
 * the platform's routemeter adapter when the app is created, before Nest adds any route or middleware, and
 * serves the registry on `metricsPath` (`/metrics`) at the server's root, outside any global prefix.
 * @throws {import('@routemeter/core').RoutemeterOptionError} while the app is created, naming an invalid option.
 * @example
 * @Module({ imports: [RoutemeterModule.forRoot()], controllers: [UsersController] })
 * export class AppModule {}
 */
// No decorators here: the module works the same whether the app is built with tsc, SWC or esbuild.
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module is a class, configured by its static forRoot.
export class RoutemeterModule {
  static forRoot(options?: ExpressRoutemeterOptions): DynamicModule;
  static forRoot(options?: FastifyRoutemeterOptions): DynamicModule;
  static forRoot(options?: NestRoutemeterOptions): DynamicModule;
  static forRoot(options: NestRoutemeterOptions = {}): DynamicModule {
    return moduleWith([], { provide: ROUTEMETER_OPTIONS, useValue: options });
  }

  /** `forRoot` with options made by a factory (from a ConfigService, say), injected with `inject`. */
  static forRootAsync(options: RoutemeterModuleAsyncOptions): DynamicModule {
    return moduleWith(options.imports ?? [], {
      provide: ROUTEMETER_OPTIONS,
      useFactory: options.useFactory as (...args: unknown[]) => NestRoutemeterOptions,
      inject: options.inject ?? [],
    });
  }
}

// Nest adds a dynamic module's metadata to its class's: this provider is in every RoutemeterModule, and only
// one imported without forRoot has no options to inject.
Module({
  providers: [
    {
      provide: CONFIGURED,
      useFactory(options: NestRoutemeterOptions | undefined): boolean {
        if (options === undefined) {
          console.warn(
            'routemeter: RoutemeterModule is imported without options, so it installs nothing and records no request: import `RoutemeterModule.forRoot()` (or `forRootAsync(…)`)',
          );
        }
        return options !== undefined;
      },
      inject: [{ token: ROUTEMETER_OPTIONS, optional: true }],
    },
  ],
})(RoutemeterModule);

function moduleWith(imports: NonNullable<ModuleMetadata['imports']>, options: Provider): DynamicModule {
  return {
    module: RoutemeterModule,
    global: true,
    imports,
    providers: [
      options,
      {
        provide: ROUTEMETER_REGISTRY,
        useFactory: (o: NestRoutemeterOptions): AnyRegistry => o.registry ?? globalRegister,
        inject: [ROUTEMETER_OPTIONS],
      },
      {
        // Every provider is instantiated while NestFactory.create runs, before `init()` adds body parsers,
        // middleware and routes: the earliest point with the HTTP adapter, on both platforms.
        provide: INSTALLED,
        useFactory: async (
          o: NestRoutemeterOptions,
          registry: AnyRegistry,
          host: HttpAdapterHost,
        ): Promise<Installed> => {
          const close = await install(host.httpAdapter, { ...o, registry }, o.logger ?? (console as Logger));
          return { onApplicationShutdown: close };
        },
        inject: [ROUTEMETER_OPTIONS, ROUTEMETER_REGISTRY, HttpAdapterHost],
      },
    ],
    exports: [ROUTEMETER_REGISTRY],
  };
}
